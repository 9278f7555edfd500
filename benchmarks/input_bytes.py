"""Bytes a training batch and a 144-crop evaluation image carry from the loader's workers to
the device: float32 (the float transforms, what crossed before issue #24) against uint8 (the
geometric parts, normalised on the device).

    python benchmarks/input_bytes.py [--image-size 299] [--batch-size 32]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from inception_v4.data import collate_skipping, train_transform
from inception_v4.evaluate import views
from inception_v4.evaluate.views import view_pixels


def nbytes(batch: object) -> int:
    """Bytes of every tensor in a (nested) batch."""
    if isinstance(batch, torch.Tensor):
        return batch.nbytes
    return sum(nbytes(part) for part in batch) if isinstance(batch, (tuple, list)) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (375, 500, 3), np.uint8))
    transform = train_transform(args.image_size)
    rows = []
    for name, make in (("float32 (before)", transform), ("uint8 (after)", transform.geometry)):
        images, labels, _ = collate_skipping([(make(image), 0)] * args.batch_size)
        rows.append((f"training batch of {args.batch_size}, {name}", nbytes(images)))
    size = {"image_size": args.image_size}
    rows.append(("144-crop image, float32 (before)", views(image, 144, **size).nbytes))
    rows.append(("144-crop image, uint8 (after)", view_pixels(image, 144, **size).nbytes))
    for name, count in rows:
        print(f"{name:48s} {count:>12,d} bytes  {count / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
