"""The library version (one place; ``inception_v4.__version__`` re-exports it)."""

__version__ = "0.1.0"
