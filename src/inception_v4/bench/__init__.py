"""Benchmarks: our networks against timm's, side by side in one process (speed, memory), and
the input pipeline against torchvision's. Imported only by the command line (``bench``)."""
