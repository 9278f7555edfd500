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
from ..inference import INT8, inference_dtype, optimize_for_inference
from ..weights import describe, resolve_model
from .calibration import calibration_batches


def load_for_eval(name: str | None, weights: str | Path, *, ema: bool = False,
                  device: str | torch.device = "cpu", dtype: str | torch.dtype = torch.float32,
                  compile: bool = False, calibration: str | Path | None = None,
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode on device, info)``; info: ``model``, ``weights``, ``classes``
    (names the weights carry, or None), ``dtype`` and ``compiled``.

    ``dtype="bfloat16"`` evaluates the fused graph computing in bf16 (float32 in and out);
    ``compile=True`` the fused graph compiled by inductor; ``dtype="int8"`` the network
    quantized after calibration on :data:`.calibration.CALIBRATION_IMAGES` images drawn from
    ``calibration`` (any data ``evaluate`` or ``predict`` reads), always compiled
    (:func:`inception_v4.optimize_for_inference`).
    """
    dtype = inference_dtype(dtype)
    if dtype == INT8 and calibration is None:
        raise ValueError("--dtype int8 needs --calibration DATA (a few hundred training "
                         "images are drawn from it to set the int8 ranges)")
    if calibration is not None and dtype != INT8:
        raise ValueError(f"--calibration is for --dtype int8 only (got --dtype "
                         f"{str(dtype).removeprefix('torch.')})")
    model = resolve_model(weights, name=name, ema=ema).to(device)
    info = {**describe(model, weights), "dtype": str(dtype).removeprefix("torch."),
            "compiled": compile or dtype == INT8}
    if dtype == INT8 or compile:
        if torch.device(device).type != "cpu":
            raise ValueError(f"--compile and --dtype int8 run on the CPU (inductor's oneDNN "
                             f"graph); got --device {device}")
        batches = calibration_batches(calibration, model) if dtype == INT8 else None
        model = optimize_for_inference(model, dtype=dtype, compile=True, calibration=batches)
    elif dtype != torch.float32:
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
