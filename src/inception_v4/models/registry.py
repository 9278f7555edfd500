"""Registry names → spec tables; ``create_model`` and ``list_models``."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from torch import nn

from .inception_resnet_v1 import INCEPTION_RESNET_V1, INCEPTION_RESNET_V1_FACENET
from .inception_resnet_v2 import INCEPTION_RESNET_V2, INCEPTION_RESNET_V2_PAPER
from .inception_v4 import INCEPTION_V4
from .network import NetSpec, Network, transform_spec

_SPECS: dict[str, NetSpec] = {
    s.name: s
    for s in (INCEPTION_V4, INCEPTION_RESNET_V1, INCEPTION_RESNET_V2, INCEPTION_RESNET_V2_PAPER,
              INCEPTION_RESNET_V1_FACENET)
}

# Preprocessing: slim's eval (central 87.5 % of each side, bilinear, scale to [-1, 1]).
_IMAGENET_CFG = {
    "input_size": (3, 299, 299), "crop_pct": 0.875, "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "min_input_size": (3, 75, 75),
}
# FaceNet: aligned 160×160 face crops, per-image standardisation ("prewhiten").
_FACENET_CFG = {
    "input_size": (3, 160, 160), "crop_pct": 1.0, "interpolation": "bilinear",
    "mean": None, "std": None, "normalize": "per_image", "min_input_size": (3, 75, 75),
}


def list_models() -> list[str]:
    """The registry names, sorted."""
    return sorted(_SPECS)


def get_spec(name: str) -> NetSpec:
    """The spec table registered as ``name``; a clear error listing the names otherwise."""
    if name not in _SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
    return _SPECS[name]


def default_cfg(name: str) -> dict[str, Any]:
    """The data config (timm ``pretrained_cfg``) a model of this name is created with."""
    spec = get_spec(name)
    return dict(_FACENET_CFG if spec.head == "embedding" else _IMAGENET_CFG)


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    drop_rate: float = 0.2,
    aux_logits: bool = False,
    width: float = 1.0,
    depth: float = 1.0,
    residual_scale: float | None = None,
    residual: bool = True,
    pretrained: str | Path | None = None,
    features_only: bool = False,
    out_indices: tuple[int, ...] = (0, 1, 2, 3, 4),
) -> nn.Module:
    """Build a network by registry name.

    ``num_classes`` defaults to the table's (1000; 128 for the FaceNet embedding); 1001 adds
    TF-slim's background class at index 0. ``width`` multiplies every channel count (to a
    multiple of 8, at least 8), ``depth`` the repeats of repeated blocks (at least 1).
    ``residual_scale`` overrides the scales of Fig. 20 (not the unscaled final block);
    ``residual=False`` removes the identity paths (same cost, no shortcut).
    ``pretrained`` is anything :func:`inception_v4.weights.load_pretrained` reads.
    """
    spec = get_spec(name)
    _check_args(num_classes, in_chans, drop_rate)
    _check_scales(width=width, depth=depth, residual_scale=residual_scale)
    if num_classes is None:
        num_classes = spec.num_classes
    table = transform_spec(spec, width, depth, residual_scale)
    model = Network(table, num_classes, in_chans, drop_rate, aux_logits, residual)
    model.pretrained_cfg = default_cfg(name)
    model.init_args = {
        "num_classes": num_classes, "in_chans": in_chans, "drop_rate": drop_rate,
        "aux_logits": aux_logits, "width": width, "depth": depth,
        "residual_scale": residual_scale, "residual": residual,
    }
    model.aux_loss_weight = 0.4 if aux_logits else 0.0
    if pretrained is not None:
        from ..weights import load_pretrained

        load_pretrained(model, pretrained)
    if features_only:
        from .features import FeatureExtractor

        return FeatureExtractor(model, out_indices)
    return model


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_args(num_classes: int | None, in_chans: int, drop_rate: float) -> None:
    if num_classes is not None and (not _is_int(num_classes) or num_classes < 0):
        raise ValueError(f"num_classes must be a non-negative int, got {num_classes!r}")
    if not _is_int(in_chans) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int, got {in_chans!r}")
    if not isinstance(drop_rate, (int, float)) or isinstance(drop_rate, bool):
        raise TypeError(f"drop_rate must be a number in [0, 1), got {drop_rate!r}")
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")


def _check_scales(**values: float | None) -> None:
    """width and depth: finite numbers > 0; residual_scale: None or a finite number >= 0."""
    for key, value in values.items():
        if value is None and key == "residual_scale":
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"{key} must be a number, got {value!r}")
        low_ok = value >= 0 if key == "residual_scale" else value > 0
        if not (math.isfinite(value) and low_ok):
            bound = ">= 0" if key == "residual_scale" else "> 0"
            raise ValueError(f"{key} must be a finite number {bound}, got {value!r}")


def copy_model_args(model: nn.Module) -> dict[str, Any]:
    """The constructor arguments ``model`` was created with (for saving a config)."""
    return copy.deepcopy(getattr(model, "init_args", {}))
