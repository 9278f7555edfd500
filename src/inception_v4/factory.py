"""``create_model``: timm's entry point, a network by name with its weights and its form.

A thin layer above :mod:`inception_v4.models` (the networks) and :mod:`inception_v4.weights`
(reading weights), so that neither has to import the other's upper half.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from torch import nn

from .models import FeatureExtractor, ModelArgs, get_spec, network_from_args
from .weights import resolve_model


def create_model(name: str, *, num_classes: int | None = None, in_chans: int = 3,
                 drop_rate: float = 0.2, aux_logits: bool = False, width: float = 1.0,
                 depth: float = 1.0, residual_scale: float | None = None, residual: bool = True,
                 global_pool: str = "avg", pretrained: str | Path | None = None,
                 features_only: bool = False,
                 out_indices: tuple[int, ...] = (0, 1, 2, 3, 4)) -> nn.Module:
    """Build a network by registry name (arguments: :func:`inception_v4.models.build_network`).

    ``pretrained`` is anything :func:`inception_v4.weights.resolve_model` reads (our folder,
    timm/Cadene, facenet-pytorch and Keras files, ``timm:NAME``), loaded through it into the
    network these arguments build (a mismatch names the keys). ``features_only`` returns
    the feature maps at ``out_indices`` of the reductions 2, 4, 8, 16, 32 (timm convention).
    """
    args = ModelArgs(
        num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, aux_logits=aux_logits,
        width=width, depth=depth, residual_scale=residual_scale, residual=residual,
        global_pool=global_pool)
    if pretrained is None:
        model = network_from_args(name, args)
    else:  # None classes: the table's, as without weights (resolve_model: the weights')
        args = replace(args, num_classes=get_spec(name).num_classes if num_classes is None
                       else num_classes)
        model = resolve_model(pretrained, name=name, args=args).train()
    return FeatureExtractor(model, out_indices) if features_only else model
