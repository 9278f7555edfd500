"""Heads: Fig. 9 / Fig. 15's "Average Pooling → Dropout (keep 0.8) → Softmax", FaceNet's
embedding head, and TF-slim's auxiliary classifier (not in the paper)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvBN, ShiftBatchNorm1d


def _linear(in_features: int, num_classes: int) -> nn.Module:
    return nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()


class ClassifierHead(nn.Module):
    """Global average pool → dropout (p = 0.2, the paper's keep 0.8) → linear classifier.

    ``num_classes=0`` leaves the pooled features (timm convention).
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        self.drop = nn.Dropout(drop_rate)
        self.fc = _linear(in_features, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))
        return x if pre_logits else self.fc(self.drop(x))

    def reset(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = _linear(self.in_features, num_classes)


class EmbeddingHead(nn.Module):
    """FaceNet's head: pool → dropout → linear 1792→128 without bias ("Bottleneck") →
    BatchNorm1d without learned scale. The output is not L2-normalised (FaceNet's graph
    is not either); normalise before comparing faces."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features, num_classes, bias=False)
        self.bn = ShiftBatchNorm1d(num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))
        return x if pre_logits else self.bn(self.fc(self.drop(x)))

    def reset(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(self.in_features, num_classes, bias=False)
        self.bn = ShiftBatchNorm1d(num_classes)


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
        if min(x.shape[-2:]) >= 5:
            x = F.avg_pool2d(x, 5, 3)
        if tuple(x.shape[-2:]) != (5, 5):
            x = F.adaptive_avg_pool2d(x, 5)
        return self.fc(torch.flatten(self.conv2(self.conv1(x)), 1))

    def reset(self, num_classes: int) -> None:
        self.fc = _linear(768, num_classes)
