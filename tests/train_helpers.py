"""Tiny image folders for the training tests (written as files, read by the data package)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
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


def weights_difference(a: Path, b: Path) -> float:
    """The largest difference of the model's and the averaged weights' float tensors between
    two run folders' last checkpoints, which must be at the same step."""
    sa = torch.load(a / "checkpoints" / "last.pt", weights_only=True)
    sb = torch.load(b / "checkpoints" / "last.pt", weights_only=True)
    assert sa["progress"]["step"] == sb["progress"]["step"]
    worst = 0.0
    for ta, tb in ((sa["model"], sb["model"]), (sa["ema"]["module"], sb["ema"]["module"])):
        for k, v in ta.items():
            if v.is_floating_point():
                worst = max(worst, (tb[k] - v).abs().max().item())
    return worst


def rounding_bound(reference: Callable[[Path], None], out: Path, threads: int) -> float:
    """How far two runs whose arithmetic differs only in rounding may end apart: 4x the
    difference between ``reference``'s run folder ``out`` and the same run redone on
    ``threads`` threads (another order of summation, nothing else), and at least 1e-5.

    Processes and threads change only the order in which a gradient's terms are summed (a
    relative 1e-7 of float32), but the tests' small runs are chaotic and grow it step by step; how
    much depends on the kernels: on AVX2 oneDNN one thread sums a batch of 8 as two ranks of
    4 do (2e-7 after 4 steps), on AVX-512 oneDNN it does not (1.7e-4 after 4 steps, an
    Intel Xeon with AMX). A bug (another batch, a lost optimizer or BN state) moves the
    weights by the order of the learning rate (2e-3 in these tests) at every step, on every
    CPU.
    """
    redone = out.with_name(f"{out.name}-{threads}-threads")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        reference(redone)
    finally:
        torch.set_num_threads(before)
    return max(1e-5, 4 * weights_difference(out, redone))
