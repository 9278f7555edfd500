"""``create_model``: timm's entry point, a network by name with its weights and its form.

A thin layer above :mod:`inception_v4.models` (the networks) and :mod:`inception_v4.weights`
(reading weights), so that neither has to import the other's upper half.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .models import FeatureExtractor, build_network
from .weights import load_pretrained, resolve_model
from .weights.resolve import carries_network


def create_model(name: str, *, num_classes: int | None = None, in_chans: int = 3,
                 drop_rate: float = 0.2, aux_logits: bool = False, width: float = 1.0,
                 depth: float = 1.0, residual_scale: float | None = None, residual: bool = True,
                 global_pool: str = "avg", pretrained: str | Path | None = None,
                 features_only: bool = False,
                 out_indices: tuple[int, ...] = (0, 1, 2, 3, 4)) -> nn.Module:
    """Build a network by registry name (arguments: :func:`inception_v4.models.build_network`).

    ``pretrained`` is anything :func:`inception_v4.weights.load_pretrained` reads (our folder,
    timm/Cadene, facenet-pytorch and Keras files, ``timm:NAME``). Our folder and a training
    checkpoint (or run folder) rebuild the network they hold, with their own width, depth and
    other constructor arguments (a different ``width``/``depth`` asked for is an error;
    ``num_classes`` puts a new head on it). ``features_only`` returns the feature maps at
    ``out_indices`` of the reductions 2, 4, 8, 16, 32 (timm convention).
    """
    if pretrained is not None and carries_network(pretrained):
        model = _saved_network(name, pretrained, num_classes, width=width, depth=depth)
    else:
        model = build_network(name, num_classes=num_classes, in_chans=in_chans,
                              drop_rate=drop_rate, aux_logits=aux_logits, width=width,
                              depth=depth, residual_scale=residual_scale, residual=residual,
                              global_pool=global_pool)
        if pretrained is not None:
            load_pretrained(model, pretrained)
    return FeatureExtractor(model, out_indices) if features_only else model


def _saved_network(name: str, source: str | Path, num_classes: int | None, *, width: float,
                   depth: float) -> nn.Module:
    """The network ``source`` holds (in train mode, as a fresh one is); ``width``/``depth``
    other than 1 must be the saved ones."""
    model = resolve_model(source, name=name, num_classes=num_classes)
    for key, asked in (("width", width), ("depth", depth)):
        saved = model.init_args[key]
        if asked != 1.0 and asked != saved:
            raise ValueError(f"{key}={asked} asked for, but {source} holds {name} with {key} "
                             f"{saved}; drop {key} (the saved network keeps its own)")
    return model.train()
