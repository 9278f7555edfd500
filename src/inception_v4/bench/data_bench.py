"""Input pipeline speed: our data package against a plain torchvision ImageFolder pipeline.

Both decode, augment and batch the same images into the same tensors (the same random draws
give the same output): ours reads them straight from the dataset's tars through
``open_dataset``, ``train_transform`` and ``build_loader``; the plain pipeline reads the
same files extracted to a temporary folder with ``torchvision.datasets.ImageFolder`` (PIL
decoding), ``reference_train_transform`` (stock torchvision transforms) and a default
``DataLoader``.
Images per second are taken over ``batches`` batches after one warm-up batch (which also
starts the workers), for each worker count.
"""

from __future__ import annotations

import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from ..data import build_loader, open_dataset, train_transform
from ..data.transforms import reference_train_transform


def _rate(loader: Iterable, batches: int) -> float:
    """Images per second over ``batches`` batches, after one warm-up batch."""
    it = iter(loader)
    next(it)
    seen, start = 0, time.perf_counter()
    for _ in range(batches):
        batch = next(it)
        seen += len(batch[0])
    return seen / (time.perf_counter() - start)


def _extract_train(root: Path, into: Path) -> Path:
    tars = sorted(root.glob("train.tar*"))
    if not tars:
        raise FileNotFoundError(f"{root} has no train.tar; --mode data needs the imagenette tars")
    with tarfile.open(tars[0]) as t:
        try:
            t.extractall(into, filter="data")
        except TypeError:  # Python without extraction filters: members are plain files
            t.extractall(into)  # noqa: S202
    return into


def data_rates(root: str | Path, workers: list[int], batch_size: int = 64,
               image_size: int = 96, batches: int = 20) -> list[dict]:
    """Rows ``{pipeline, workers, images_per_s}`` for ours and the plain pipeline."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} not found (pass --data)")
    ours = open_dataset(root, "train")
    ours.transform = train_transform(image_size)
    need = (batches + 1) * batch_size
    if len(ours) < need:
        raise ValueError(f"{root} has {len(ours)} training images; {need} are needed for "
                         f"{batches} batches of {batch_size} (lower --batches)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = ImageFolder(str(_extract_train(root, Path(tmp))),
                            transform=reference_train_transform(image_size))
        for w in workers:
            gen = torch.Generator().manual_seed(0)
            loaders = {
                "ours": build_loader(ours, batch_size, shuffle=True, workers=w),
                "torchvision": DataLoader(plain, batch_size, shuffle=True, num_workers=w,
                                          generator=gen),
            }
            for name, loader in loaders.items():
                rows.append({"mode": "data", "pipeline": name, "workers": w,
                             "image_size": image_size, "batch_size": batch_size,
                             "images_per_s": _rate(loader, batches)})
                del loader
            loaders.clear()
    return rows
