"""The per-pixel half of the preprocessing (:mod:`.transforms` builds the transforms of it):
uint8 pixels in, float32 network input out, on whatever device the pixels are.

The loaders hand uint8 images (a quarter of float32's bytes through shared memory, pinned
memory and the bus) to the device, and the normaliser runs there, batched: ``x / 255``, then
the training colour steps (:class:`Pixels` carries the numbers drawn for them on the CPU),
then ``(x - mean) / std`` (:class:`MeanStdNormalize`) or FaceNet's per-image standardisation
(:class:`PerImageStandardize`). On the CPU a batch gives, bit for bit, the images one at a
time: the same float32 operations on the same values (tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

# torchvision's rgb_to_grayscale weights (ColorJitter's saturation blends with that grey)
GREY_WEIGHTS = (0.2989, 0.587, 0.114)


class Pixels(NamedTuple):
    """A uint8 image ``3 × H × W`` (or batch ``N × 3 × H × W``) with the training colour steps
    drawn for it: ``colour`` is ``(brightness delta, saturation factor)`` per image, float64
    (``2`` or ``N × 2``). The DataLoader's collate and ``pin_memory`` keep the pair."""

    image: torch.Tensor
    colour: torch.Tensor

    def to(self, device: torch.device, non_blocking: bool = False) -> Pixels:
        return Pixels(self.image.to(device, non_blocking=non_blocking),
                      self.colour.to(device, non_blocking=non_blocking))


def unit_float(x: torch.Tensor | Pixels, channels_last: bool = False) -> torch.Tensor:
    """float32 in [0, 1] from uint8 pixels (``/ 255``; a float tensor is taken as already in
    [0, 1] and copied), with :class:`Pixels`' colour steps applied; a batch in channels-last
    order when ``channels_last`` (converted while still uint8: the values do not change)."""
    colour = None
    if isinstance(x, Pixels):
        x, colour = x
    if x.dim() not in (3, 4):
        raise ValueError(f"expected an image C x H x W or a batch N x C x H x W, got shape "
                         f"{tuple(x.shape)}")
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    if x.dtype == torch.uint8:
        # divided by a tensor on x's device: CUDA multiplies by the reciprocal of a Python
        # number instead, which differs from u / 255 in the last bit for 126 of 256 values
        x = x.float().div_(torch.full((), 255.0, device=x.device))
    elif x.is_floating_point():
        x = x.to(torch.float32, copy=True)
    else:
        raise ValueError(f"expected uint8 pixels or a float image in [0, 1], got {x.dtype}")
    return x if colour is None else colour_steps(x, colour)


def colour_steps(x: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """``InceptionTrain``'s brightness shift and saturation, in place on ``x`` (float32 in
    [0, 1]) with the per-image ``(delta, factor)`` of ``colour`` (float64): add ``delta``,
    clip, blend with the grey image by ``factor``, clip. Each number is used as the float32
    it became in the one-image arithmetic (``1 - factor`` taken in float64 first)."""
    shape = (-1, 1, 1, 1) if x.dim() == 4 else (1, 1, 1)  # per image, over C × H × W
    colour = colour.to(x.device).reshape(-1, 2)
    delta, factor = colour[:, 0], colour[:, 1]
    x.add_(delta.float().view(shape)).clamp_(0.0, 1.0)
    r, g, b = (x.select(-3, c) for c in range(3))
    grey = GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g + GREY_WEIGHTS[2] * b
    grey.mul_((1.0 - factor).float().view(shape[:-1]))  # per image, over H × W
    return x.mul_(factor.float().view(shape)).add_(grey.unsqueeze(-3)).clamp_(0.0, 1.0)


def prewhiten(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """FaceNet's per-image standardisation: ``(x - mean) / max(std, 1/sqrt(n))`` per image,
    over all its ``n`` raw 0-255 values.

    ``x``: one image (C, H, W) or a batch (N, C, H, W), any real or uint8 dtype; the result
    is float32 with the same shape (computed in float64). ``std`` is the population standard
    deviation (NumPy's default, as in FaceNet's ``facenet.prewhiten``); the floor
    ``1/sqrt(n)`` keeps flat images finite.
    """
    t = torch.as_tensor(x)
    if t.dim() not in (3, 4):
        raise ValueError(f"prewhiten expects (C, H, W) or (N, C, H, W), got shape "
                         f"{tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"prewhiten expects real pixel values, got dtype {t.dtype}")
    batch = t.to(torch.float64).reshape(t.shape[0] if t.dim() == 4 else 1, -1)
    mean = batch.mean(1, keepdim=True)
    std = batch.std(1, correction=0, keepdim=True)
    out = (batch - mean) / std.clamp(min=1.0 / math.sqrt(batch.shape[1]))
    return out.to(torch.float32).reshape(t.shape)


class MeanStdNormalize(nn.Module):
    """uint8 pixels (or :class:`Pixels`) → ``(x / 255 - mean) / std``, float32, on their
    device; ``channels_last=True`` gives a batch in channels-last order."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor | Pixels, channels_last: bool = False) -> torch.Tensor:
        x = unit_float(x, channels_last)
        return x.sub_(self.mean.to(x.device)).div_(self.std.to(x.device))

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class PerImageStandardize(nn.Module):
    """uint8 pixels (or :class:`Pixels`) → :func:`prewhiten` of each image's 0-255 values
    (``(x / 255) * 255``, as the float transforms have always computed it), float32."""

    def forward(self, x: torch.Tensor | Pixels, channels_last: bool = False) -> torch.Tensor:
        out = prewhiten(unit_float(x) * 255.0)
        return out.contiguous(memory_format=torch.channels_last) \
            if channels_last and out.dim() == 4 else out


NORMALIZE_MODES = ("mean_std", "per_image")


def normalizer(normalize: str, mean: Sequence[float] | None,
               std: Sequence[float] | None) -> MeanStdNormalize | PerImageStandardize:
    """The normaliser of a ``normalize`` mode (:data:`NORMALIZE_MODES`)."""
    if normalize == "per_image":
        return PerImageStandardize()
    if normalize != "mean_std":
        raise ValueError(f"unknown normalize {normalize!r}; choose one of "
                         f"{', '.join(NORMALIZE_MODES)}")
    if mean is None or std is None:
        raise ValueError("normalize='mean_std' needs mean and std")
    return MeanStdNormalize(mean, std)
