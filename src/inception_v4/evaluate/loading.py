"""A model ready for evaluation from whatever ``--weights`` names, and class names.

``W`` is anything :func:`inception_v4.weights.resolve_model` reads (a run folder, a training
checkpoint, our folder, a foreign weights file, ``timm:NAME``); its rules and messages apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.imagenet_val import imagenet_classes
from ..inference import optimize_for_inference
from ..weights import describe, resolve_model


def load_for_eval(name: str | None, weights: str | Path, *, ema: bool = False,
                  device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode on device, info)``; info: ``model``, ``weights``, ``classes``
    (names the weights carry, or None) and ``dtype``. ``dtype=torch.bfloat16`` evaluates the
    fused graph computing in bf16 (:func:`inception_v4.optimize_for_inference`; float32 in
    and out)."""
    model = resolve_model(weights, name=name, ema=ema).to(device)
    info = {**describe(model, weights), "dtype": str(dtype).removeprefix("torch.")}
    if dtype != torch.float32:
        model = optimize_for_inference(model, dtype=dtype)
    return model, info


def class_names(num_classes: int, own: list[str] | None = None) -> list[str]:
    """ImageNet names for 1000/1001 classes; otherwise the dataset's or checkpoint's own
    names when their count fits; otherwise ``class 0``, ``class 1``, ..."""
    names = imagenet_classes(num_classes)
    if names is not None:
        return names
    if own is not None and len(own) == num_classes:
        return list(own)
    return [f"class {i}" for i in range(num_classes)]
