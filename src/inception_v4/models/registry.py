"""Registry names → spec tables; ``build_network`` and ``list_models``.

``inception_v4.create_model`` (the factory above this and the weights package) adds
``pretrained=`` and ``features_only=``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .inception_resnet_v1 import INCEPTION_RESNET_V1, INCEPTION_RESNET_V1_FACENET
from .inception_resnet_v2 import INCEPTION_RESNET_V2, INCEPTION_RESNET_V2_PAPER
from .inception_v4 import INCEPTION_V4
from .model_args import ModelArgs
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
    return network_from_args(name, ModelArgs(
        num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, aux_logits=aux_logits,
        width=width, depth=depth, residual_scale=residual_scale, residual=residual,
        global_pool=global_pool))


def network_from_args(name: str, args: ModelArgs) -> Network:
    """The network registered as ``name`` built with ``args`` (:func:`build_network`)."""
    spec = get_spec(name)
    if args.num_classes is None:
        args = replace(args, num_classes=spec.num_classes)
    table = transform_spec(spec, args.width, args.depth, args.residual_scale)
    model = Network(table, args.num_classes, args.in_chans, args.drop_rate, args.aux_logits,
                    args.residual, args.global_pool)
    model.pretrained_cfg = {**default_cfg(name), "num_classes": args.num_classes}
    model.init_args = args.as_dict()
    return model
