"""Make our networks creatable through ``timm.create_model`` (timm is optional).

:func:`register` adds each registry name with the prefix ``iv4_`` (``iv4_inception_v4``, ...),
so they sit beside timm's own ``inception_v4`` / ``inception_resnet_v2`` without clashing::

    import timm
    from inception_v4 import timm_compat

    timm_compat.register()
    model = timm.create_model("iv4_inception_v4", pretrained=False, num_classes=10)
    config = timm.data.resolve_data_config(model=model)  # 299, crop 0.875, bilinear, 0.5/0.5

``pretrained=True`` loads timm's ported TF-slim weights (``inception_v4.tf_in1k``,
``inception_resnet_v2.tf_in1k``) through our converter when the Hugging Face hub is reachable;
``pretrained_cfg_overlay=dict(file=PATH)`` (timm's ``--pretrained-path``) loads any file
:func:`inception_v4.create_model` reads. As in timm, ``num_classes`` / ``global_pool`` other
than the weights' give a new classifier (``num_classes=0``: none) over the loaded body.
timm's data config cannot express FaceNet's per-image standardisation: its timm cfg carries
mean/std 0.5 and a note; our own ``inception_v4.data.create_transform`` reads
``normalize="per_image"`` and applies it. The model contract timm's tools rely on, and what
is left out, is in ``docs/timm-contract.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from torch import nn

from .factory import create_model
from .models import FeatureExtractor, ModelArgs, default_cfg, get_spec, list_models
from .models.model_args import NAMES as MODEL_ARG_NAMES
from .weights import resolve_model
from .weights.catalogue import hub_default

__all__ = ["HUB_WEIGHTS", "PREFIX", "default_cfgs", "register", "timm_cfg"]

PREFIX = "iv4_"
# Weights timm's pretrained=True loads for the networks that have public ImageNet weights.
HUB_WEIGHTS = {n: "timm:" + w.hub_id.removeprefix("timm/") for n in list_models()
               if (w := hub_default(n)) is not None and w.hub_id}
_TIMM_KEYS = ("input_size", "min_input_size", "pool_size", "interpolation", "crop_pct", "mean",
              "std", "first_conv", "classifier")
_MODEL_ARGS = (*MODEL_ARG_NAMES, "features_only", "out_indices")  # create_model's keywords
_TIMM_ONLY = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")


def timm_cfg(name: str) -> dict[str, Any]:
    """A timm ``PretrainedCfg``-compatible dict for registry name ``name``."""
    ours = default_cfg(name)
    cfg = {k: ours[k] for k in _TIMM_KEYS if ours.get(k) is not None}
    cfg.update(architecture=PREFIX + name, num_classes=get_spec(name).num_classes,
               license="apache-2.0",
               paper_ids="arXiv:1602.07261", origin_url="https://arxiv.org/abs/1602.07261")
    if ours.get("normalize") == "per_image":
        cfg.update(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), notes=(
            "FaceNet expects per-image standardisation (inception_v4.data.create_transform "
            "applies it); timm's transforms use mean/std 0.5 instead",))
    return cfg


# timm's register_model reads the entrypoint module's ``default_cfgs`` for pretrained cfgs.
default_cfgs: dict[str, dict[str, Any]] = {PREFIX + n: timm_cfg(n) for n in list_models()}


def _weights(name: str, pretrained: bool, overlay: dict[str, Any] | None) -> str | None:
    """What our loader should read for timm's ``pretrained`` / ``pretrained_cfg_overlay``."""
    if not pretrained:
        return None
    if overlay and overlay.get("file"):
        return str(overlay["file"])
    if name not in HUB_WEIGHTS:
        raise ValueError(f"{PREFIX}{name} has no public ImageNet weights; pass "
                         f"pretrained_cfg_overlay=dict(file=PATH) with a weights file")
    return HUB_WEIGHTS[name]


def _pretrained(name: str, weights: str, args: dict[str, Any]) -> nn.Module:
    """timm's ``pretrained=True``: the weights load with their own classifier, which is then
    replaced when ``num_classes`` or ``global_pool`` asks for another (0: none)."""
    args = dict(args)
    wanted, pool = args.pop("num_classes", None), args.pop("global_pool", "avg")
    features_only, out_indices = args.pop("features_only", False), args.pop("out_indices", None)
    model = resolve_model(weights, name=name, args=ModelArgs(**args), num_classes=wanted).train()
    if pool != "avg":
        model.reset_classifier(model.num_classes, pool)
    if features_only:
        return FeatureExtractor(model, out_indices or (0, 1, 2, 3, 4))
    return model


def _entrypoint(name: str) -> Callable[..., nn.Module]:
    def entry(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        unknown = sorted(set(kwargs) - set(_MODEL_ARGS) - set(_TIMM_ONLY))
        if unknown:
            raise TypeError(f"{PREFIX}{name} does not take {', '.join(unknown)}; it takes "
                            f"{', '.join(_MODEL_ARGS)}")
        args = {k: kwargs[k] for k in _MODEL_ARGS if k in kwargs}
        if "out_indices" in args:
            args["out_indices"] = tuple(args["out_indices"])
        weights = _weights(name, pretrained, kwargs.get("pretrained_cfg_overlay"))
        model = create_model(name, **args) if weights is None else _pretrained(name, weights, args)
        cfg = {**default_cfgs[PREFIX + name],
               **{k: v for k, v in model.pretrained_cfg.items() if v is not None}}
        cfg["num_classes"] = getattr(model, "num_classes", cfg["num_classes"])
        model.pretrained_cfg = cfg
        model.default_cfg = cfg
        return model

    entry.__name__ = entry.__qualname__ = PREFIX + name
    entry.__module__ = __name__
    entry.__doc__ = f"``inception_v4.create_model({name!r}, ...)`` for timm.create_model."
    return entry


def register() -> list[str]:
    """Register every network with timm as ``iv4_<name>``; returns the names. Idempotent."""
    try:
        from timm.models import is_model, register_model
    except ModuleNotFoundError as err:
        raise ImportError("timm is not installed; `pip install timm` to create these "
                          "networks through timm.create_model") from err
    names = []
    for name in list_models():
        fn = _entrypoint(name)
        setattr(sys.modules[__name__], fn.__name__, fn)
        if not is_model(fn.__name__):
            register_model(fn)
        names.append(fn.__name__)
    return names
