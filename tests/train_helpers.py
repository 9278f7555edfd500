"""Tiny image folders for the training tests (written as files, read by the data package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = [(220, 40, 40), (40, 200, 60), (50, 60, 230), (230, 220, 40)]


def make_image_folder(root: Path, classes: int = 3, train: int = 8, val: int = 4,
                      size: int = 40, seed: int = 0) -> Path:
    """``root/train/cK/*.png`` and ``root/val/cK/*.png``: class K is a noisy colour."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for k in range(classes):
            folder = root / split / f"c{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                noise = rng.integers(-40, 40, (size, size, 3))
                pixels = np.clip(np.array(COLOURS[k]) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root
