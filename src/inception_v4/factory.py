"""``create_model``: timm's entry point, a network by name with its weights and its form.

A thin layer above :mod:`inception_v4.models` (the networks) and :mod:`inception_v4.weights`
(reading weights), so that neither has to import the other's upper half.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from torch import nn

from .models import FeatureExtractor, ModelArgs, get_spec, network_from_args
from .weights import load_weights, resolve_model
from .weights.resolve import carries_network
from .weights.sources import Weights

# What a saved network (our folder, a training checkpoint) fixes when the caller leaves it at
# the default: the shapes of its weights and the residual settings they were trained with.
# The head's form (aux_logits, drop_rate, global_pool) is always the caller's.
SAVED_ARGS = ("num_classes", "in_chans", "width", "depth", "residual_scale", "residual")


def create_model(name: str, *, num_classes: int | None = None, in_chans: int = 3,
                 drop_rate: float = 0.2, aux_logits: bool = False, width: float = 1.0,
                 depth: float = 1.0, residual_scale: float | None = None, residual: bool = True,
                 global_pool: str = "avg", pretrained: str | Path | None = None,
                 features_only: bool = False,
                 out_indices: tuple[int, ...] = (0, 1, 2, 3, 4)) -> nn.Module:
    """Build a network by registry name (arguments: :func:`inception_v4.models.build_network`).

    ``pretrained`` is anything :func:`inception_v4.weights.resolve_model` reads (our folder,
    timm/Cadene, facenet-pytorch and Keras files, ``timm:NAME``), loaded through it into the
    network these arguments build (a mismatch names the keys). Our folder and a training
    checkpoint (or run folder) say how their network was built: its classes, width, depth,
    input channels and residual settings are used unless given here. ``features_only``
    returns the feature maps at ``out_indices`` of the reductions 2, 4, 8, 16, 32 (timm
    convention).
    """
    args = ModelArgs(
        num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, aux_logits=aux_logits,
        width=width, depth=depth, residual_scale=residual_scale, residual=residual,
        global_pool=global_pool)
    if pretrained is None:
        model = network_from_args(name, args)
    elif carries_network(pretrained):
        model = _from_saved(name, pretrained, args)
    else:  # None classes: the table's, as without weights (resolve_model: the weights')
        args = replace(args, num_classes=get_spec(name).num_classes if num_classes is None
                       else num_classes)
        model = resolve_model(pretrained, name=name, args=args).train()
    return FeatureExtractor(model, out_indices) if features_only else model


def _from_saved(name: str, source: str | Path, args: ModelArgs) -> nn.Module:
    """``name`` built with the saved network's arguments where ``args`` leaves the default
    (:data:`SAVED_ARGS`), loaded with its weights (their preprocessing and class names too);
    in train mode, as a fresh network is."""
    saved, default = resolve_model(source, name=name), ModelArgs()
    kept = {k: saved.init_args[k] for k in SAVED_ARGS if getattr(args, k) == getattr(default, k)}
    model = network_from_args(name, replace(args, **kept))
    load_weights(model, Weights(saved.state_dict(), "ours", Path(source), None, name))
    model.pretrained_cfg = {**saved.pretrained_cfg, "num_classes": model.num_classes}
    model.weights_kind = getattr(saved, "weights_kind", None)  # what the source was
    return model.train()
