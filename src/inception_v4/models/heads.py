"""Heads: Fig. 9 / Fig. 15's "Average Pooling → Dropout (keep 0.8) → Softmax", FaceNet's
embedding head, and TF-slim's auxiliary classifier (not in the paper)."""

from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from ..layers import ConvBN, ShiftBatchNorm1d

POOLS = ("avg", "")  # timm's global_pool values we build: the paper's average pool, or none


def _linear(in_features: int, num_classes: int, bias: bool = True) -> nn.Module:
    return nn.Linear(in_features, num_classes, bias=bias) if num_classes > 0 else nn.Identity()


def check_pool(global_pool: str, num_classes: int) -> str:
    """``global_pool`` if the head can be built with it: ``'avg'``, or ``''`` (no pooling,
    timm's N×C×H×W output) with ``num_classes=0``."""
    if global_pool not in POOLS:
        raise ValueError(f"global_pool must be 'avg' (the paper's average pool) or '' (no "
                         f"pooling), got {global_pool!r}")
    if global_pool == "" and num_classes > 0:
        raise ValueError(f"global_pool='' (no pooling) needs num_classes=0, got {num_classes}: "
                         f"the linear classifier reads pooled features")
    return global_pool


class ClassifierHead(nn.Module):
    """Global average pool → dropout (p = 0.2, the paper's keep 0.8) → linear classifier.

    ``num_classes=0`` leaves the pooled features, ``global_pool=''`` the unpooled map (timm).
    """

    fc_bias = True

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.2,
                 global_pool: str = "avg") -> None:
        super().__init__()
        self.in_features = in_features
        self.drop = nn.Dropout(drop_rate)
        self.reset(num_classes, global_pool)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3)) if self.global_pool == "avg" else x

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x)
        return x if pre_logits else self.fc(self.drop(x))

    def reset(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier for ``num_classes`` (and ``global_pool``, default: unchanged)."""
        pool = getattr(self, "global_pool", "avg") if global_pool is None else global_pool
        self.global_pool = check_pool(pool, num_classes)
        self.num_classes = num_classes
        self.fc = _linear(self.in_features, num_classes, bias=self.fc_bias)


class EmbeddingHead(ClassifierHead):
    """FaceNet's head: pool → dropout → linear 1792→128 without bias ("Bottleneck") →
    BatchNorm1d without learned scale. The output is not L2-normalised (FaceNet's graph
    is not either); normalise before comparing faces."""

    fc_bias = False

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x)
        return x if pre_logits else self.bn(self.fc(self.drop(x)))

    def reset(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset(num_classes, global_pool)
        self.bn = ShiftBatchNorm1d(num_classes) if num_classes > 0 else nn.Identity()


def aux_pool(x: torch.Tensor) -> torch.Tensor:
    """The auxiliary head's 5×5/3 VALID average pool, resized to exactly 5×5 when the input
    is not 299 (a leaf for ``torch.fx``: the size test runs on the tensor, not the tracer)."""
    if min(x.shape[-2], x.shape[-1]) >= 5:
        x = F.avg_pool2d(x, 5, 3)
    if x.shape[-2] != 5 or x.shape[-1] != 5:
        x = F.adaptive_avg_pool2d(x, 5)
    return x


torch.fx.wrap("aux_pool")


class AuxHead(nn.Module):
    """TF-slim's auxiliary classifier (slim ``AuxLogits``; the paper does not describe one).

    5×5/3 VALID average pool → 1×1 conv 128 → 5×5 VALID conv 768 → linear. At 299 input the
    17×17 map pools to exactly 5×5; for other input sizes the pooled map is resized to 5×5
    (adaptive average) so the 5×5 conv always sees the shape it was built for.
    """

    def __init__(self, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(in_ch, 128, 1)
        self.conv2 = ConvBN(128, 768, 5, 1, "valid")
        self.fc = _linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.conv2(self.conv1(aux_pool(x))), 1))

    def reset(self, num_classes: int) -> None:
        self.fc = _linear(768, num_classes)
