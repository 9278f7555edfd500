"""``features_only=True``: the feature maps at reductions 2, 4, 8, 16, 32 (timm convention)."""

from __future__ import annotations

import torch
from torch import nn

from .intermediates import FeatureInfo
from .network import Network


class FeatureExtractor(nn.Module):
    """Runs a :class:`Network`'s stem and stages (up to the last tap) and returns the maps at
    ``out_indices`` (:meth:`Network.forward_intermediates`)."""

    def __init__(self, model: Network, out_indices: tuple[int, ...] = (0, 1, 2, 3, 4)) -> None:
        super().__init__()
        info = model.feature_info
        bad = [i for i in out_indices if not 0 <= i < len(info)]
        if bad:
            raise ValueError(f"out_indices {bad} out of range; valid are 0..{len(info) - 1}")
        self.model = model
        self.out_indices = tuple(out_indices)
        self.feature_info = FeatureInfo(info[i] for i in self.out_indices)
        self.pretrained_cfg = getattr(model, "pretrained_cfg", {})

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.model.forward_intermediates(x, list(self.out_indices), stop_early=True,
                                                intermediates_only=True)
