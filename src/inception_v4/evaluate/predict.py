"""Class probabilities from many views and many models: softmax, then the arithmetic mean.

Averaging rule, for crops and for ensemble members alike: each view of each member is turned
into class probabilities with a softmax, and the probabilities are averaged with equal weights
(first over a member's views, then over members; with the same number of views per member this
is the plain mean over all member-view pairs). The paper (Tables 4 and 5) reports multi-crop and
ensemble results without stating the rule; averaging softmax outputs is what GoogLeNet
(reference [14]) did for its crops and ensembles, and it keeps every member on the same
probability scale, which averaging logits does not (their scale differs from network to network).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


@torch.no_grad()
def view_probabilities(model: nn.Module, views: torch.Tensor, chunk: int = 64,
                       normalizer: nn.Module | None = None) -> torch.Tensor:
    """Softmax of ``model`` on each view, ``chunk`` views per forward pass (bounded memory).

    ``views`` is ``V × C × H × W`` or ``N × V × C × H × W``; the result is ``V × K`` or
    ``N × V × K`` float32 on the CPU. ``normalizer`` (``views.view_normalizer``): the views
    are uint8 pixels, copied to the model's device and normalised there, in the memory
    format of its weights; None: they are the model's input already.
    """
    if views.dim() not in (4, 5):
        raise ValueError(f"views must be V x C x H x W or N x V x C x H x W, got "
                         f"{tuple(views.shape)}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    flat = views.flatten(0, 1) if views.dim() == 5 else views
    param = next(model.parameters(), None)
    device = param.device if param is not None else views.device
    channels_last = normalizer is not None and _channels_last(model)
    was_training = model.training
    model.eval()
    try:
        parts = []
        for part in flat.split(chunk):
            x = part.to(device, non_blocking=True)
            if normalizer is not None:
                x = normalizer(x, channels_last=channels_last)
            parts.append(_softmax(model(x)))
    finally:
        model.train(was_training)
    probs = torch.cat(parts)
    return probs.unflatten(0, views.shape[:2]) if views.dim() == 5 else probs


def _channels_last(model: nn.Module) -> bool:
    """Whether the model's first convolution weight is stored channels-last."""
    weight = next((p for p in model.parameters() if p.dim() == 4), None)
    return (weight is not None and not weight.is_contiguous()
            and weight.is_contiguous(memory_format=torch.channels_last))


def _softmax(logits: torch.Tensor | tuple) -> torch.Tensor:
    if isinstance(logits, tuple):  # (logits, aux_logits): only the main head counts
        logits = logits[0]
    return torch.softmax(logits.float(), dim=-1).cpu()


def predict(model: nn.Module, views: torch.Tensor, chunk: int = 64,
            normalizer: nn.Module | None = None) -> torch.Tensor:
    """Class probabilities averaged over the views: ``K`` for ``V × C × H × W`` views,
    ``N × K`` for ``N × V × C × H × W`` (softmax per view, then the arithmetic mean);
    ``normalizer``: as :func:`view_probabilities`'."""
    return view_probabilities(model, views, chunk, normalizer).mean(dim=-2)


def ensemble(models: Sequence[nn.Module], views: torch.Tensor | Sequence[torch.Tensor],
             chunk: int = 64) -> torch.Tensor:
    """Probabilities averaged over each member's views, then over the members (equal weights).

    ``views`` is one tensor for all members, or one per member when their preprocessing
    differs (input size, crop fraction, normalisation).
    """
    models = list(models)
    if not models:
        raise ValueError("ensemble needs at least one model")
    per_member = [views] * len(models) if isinstance(views, torch.Tensor) else list(views)
    if len(per_member) != len(models):
        raise ValueError(f"got {len(per_member)} view tensors for {len(models)} models; pass "
                         f"one tensor, or one per model")
    probs = [predict(m, v, chunk) for m, v in zip(models, per_member, strict=True)]
    if len({p.shape for p in probs}) > 1:
        raise ValueError(f"ensemble members disagree on the number of classes: "
                         f"{[p.shape[-1] for p in probs]}")
    return torch.stack(probs).mean(dim=0)
