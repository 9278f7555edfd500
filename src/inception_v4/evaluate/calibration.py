"""Calibration images for int8 (``--calibration DATA``), preprocessed as evaluation does.

``DATA`` is anything ``evaluate --data`` reads (its training part where it has one: the
images evaluated are then not the ones calibrated on) or any image files and folders
``predict`` reads. ``images`` of them are drawn evenly spaced (deterministic; across every
class of a dataset sorted by class) and preprocessed by the model's own central crop
(:func:`.views.views`, the one preprocessing of :mod:`inception_v4.data.transforms`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..data import decode_image, open_eval_dataset
from ..data.image_sources import image_files
from .loop import select_indices, view_config
from .views import draft_size, views

CALIBRATION_IMAGES = 256  # PT2E's histogram observers settle within a few hundred images


def _loaders(data: str | Path) -> tuple[int, object]:
    """``(count, load(i))`` over DATA's training part, its whole set, or its image files."""
    if str(data) != "embedded" and not Path(data).exists():
        raise ValueError(f"--calibration {data}: no such file or folder; give a dataset "
                         f"evaluate reads or a folder of a few hundred training images")
    for split in ("train", "all"):
        try:
            dataset, _ = open_eval_dataset(data, split)
        except ValueError:
            continue
        if len(dataset):
            return len(dataset), dataset.load
    try:
        files = image_files([str(data)])
    except (OSError, ValueError) as err:
        raise ValueError(f"--calibration {data}: neither a dataset evaluate reads nor image "
                         f"files ({err}); give a few hundred training images") from None
    return len(files), lambda i, draft_size=None: decode_image(Path(files[i]).read_bytes(),
                                                                files[i])


def calibration_batches(data: str | Path, model: nn.Module, images: int = CALIBRATION_IMAGES,
                        batch_size: int = 32) -> list[torch.Tensor]:
    """``images`` preprocessed images of ``data`` for ``model``, as batches of ``batch_size``."""
    if images < 1 or batch_size < 1:
        raise ValueError(f"images and batch_size must be >= 1, got {images}, {batch_size}")
    count, load = _loaders(data)
    if count == 0:
        raise ValueError(f"--calibration {data} holds no image; give a few hundred training "
                         f"images")
    cfg = view_config(model)
    size = draft_size(1, cfg["image_size"], cfg["crop_pct"])
    picked = [views(load(i, draft_size=size), 1, **cfg)[0]
              for i in select_indices(count, images)]
    return [torch.stack(picked[i:i + batch_size]) for i in range(0, len(picked), batch_size)]
