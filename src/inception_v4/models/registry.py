"""Registry names → spec tables; ``build_network`` and ``list_models``.

``inception_v4.create_model`` (the factory above this and the weights package) adds
``pretrained=`` and ``features_only=``.
"""

from __future__ import annotations

import math
from typing import Any

from .inception_resnet_v1 import INCEPTION_RESNET_V1, INCEPTION_RESNET_V1_FACENET
from .inception_resnet_v2 import INCEPTION_RESNET_V2, INCEPTION_RESNET_V2_PAPER
from .inception_v4 import INCEPTION_V4
from .network import NetSpec, Network, transform_spec

_SPECS: dict[str, NetSpec] = {
    s.name: s
    for s in (INCEPTION_V4, INCEPTION_RESNET_V1, INCEPTION_RESNET_V2, INCEPTION_RESNET_V2_PAPER,
              INCEPTION_RESNET_V1_FACENET)
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
    return dict(get_spec(name).pretrained_cfg)


def build_network(
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
    global_pool: str = "avg",
) -> Network:
    """The network registered as ``name``, freshly initialised.

    ``num_classes`` defaults to the table's (1000; 128 for the FaceNet embedding); 1001 adds
    TF-slim's background class at index 0. ``width`` multiplies every channel count (to a
    multiple of 8, at least 8), ``depth`` the repeats of repeated blocks (at least 1).
    ``residual_scale`` overrides the scales of Fig. 20 (not the unscaled final block);
    ``residual=False`` removes the identity paths (same cost, no shortcut).
    ``global_pool``: ``'avg'`` (the paper's) or ``''`` (no pooling, with ``num_classes=0``).
    """
    spec = get_spec(name)
    _check_args(num_classes, in_chans, drop_rate)
    _check_scales(width=width, depth=depth, residual_scale=residual_scale)
    if num_classes is None:
        num_classes = spec.num_classes
    table = transform_spec(spec, width, depth, residual_scale)
    model = Network(table, num_classes, in_chans, drop_rate, aux_logits, residual, global_pool)
    model.pretrained_cfg = {**default_cfg(name), "num_classes": num_classes}
    model.init_args = {
        "num_classes": num_classes, "in_chans": in_chans, "drop_rate": drop_rate,
        "aux_logits": aux_logits, "width": width, "depth": depth,
        "residual_scale": residual_scale, "residual": residual, "global_pool": global_pool,
    }
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
