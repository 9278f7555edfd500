"""timm's feature API over the maps at reductions 2, 4, 8, 16, 32: ``feature_info``,
``forward_intermediates`` and ``prune_intermediate_layers`` (timm ≥ 1.0 signatures)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn


class FeatureInfo(list):
    """timm-style ``feature_info``: dicts with ``num_chs``, ``reduction``, ``module``."""

    def channels(self) -> list[int]:
        return [f["num_chs"] for f in self]

    def reduction(self) -> list[int]:
        return [f["reduction"] for f in self]

    def module_name(self) -> list[str]:
        return [f["module"] for f in self]


def feature_info(layers: list[tuple[str, nn.Module]], in_chans: int) -> FeatureInfo:
    """The last of ``layers`` (name, module) at each reduction 2, 4, 8, 16, 32."""
    last: dict[int, dict] = {}
    reduction, ch = 1, in_chans
    for name, m in layers:
        first, block = (m[0], m[-1]) if isinstance(m, nn.Sequential) else (m, m)
        reduction *= int(getattr(first, "stride", 1))
        ch = getattr(block, "out_channels", ch)  # a bare pool keeps its input channels
        last[reduction] = {"num_chs": ch, "reduction": reduction, "module": name}
    return FeatureInfo(last[r] for r in sorted(last) if r > 1)


def take_indices(count: int, indices: int | Sequence[int] | None) -> tuple[list[int], int]:
    """timm's ``feature_take_indices``: ``None`` takes all ``count`` taps, an int ``n`` the
    last n, a sequence those listed (negative ones count from the end); and the largest."""
    if indices is None:
        indices = count
    if isinstance(indices, int):
        if not 0 < indices <= count:
            raise ValueError(f"indices={indices}: the last n of {count} taps needs 1 <= n <= "
                             f"{count}")
        take = list(range(count - indices, count))
    else:
        bad = [i for i in indices if not -count <= i < count]
        if bad or not indices:
            raise ValueError(f"indices {list(indices)}: each must be in -{count}..{count - 1}")
        take = [i + count if i < 0 else i for i in indices]
    return take, max(take)


class Intermediates:
    """The feature API of :class:`~inception_v4.models.network.Network` (a mixin)."""

    @torch.jit.ignore
    def forward_intermediates(
        self, x: torch.Tensor, indices: int | list[int] | None = None, norm: bool = False,
        stop_early: bool = False, output_fmt: str = "NCHW", intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """The maps at ``feature_info[indices]`` (see :func:`take_indices`) and the last
        features; ``stop_early`` stops at the last tap; ``norm`` is a no-op (no final norm)."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        take, last = take_indices(len(self.feature_info), indices)
        taps = {self.feature_info[i]["module"] for i in take}
        stop = self.feature_info[last]["module"]
        self.check_input(x)
        out = []
        for name, layer in self.named_layers():
            x = layer(x)
            if name in taps:
                out.append(x)
            if stop_early and name == stop:
                break
        return out if intermediates_only else (x, out)

    @torch.jit.ignore
    def prune_intermediate_layers(self, indices: int | list[int] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> list[int]:
        """Drop the layers after the last tap of ``indices`` (and, with ``prune_head`` or
        when layers go, the classifiers: ``reset_classifier(0, '')``); the taps kept."""
        take, last = take_indices(len(self.feature_info), indices)
        part, _, index = self.feature_info[last]["module"].partition(".")
        if part == "stem":
            kept = list(self.stem.named_children())
            kept = kept[:[n for n, _ in kept].index(index) + 1]
            self.stem, self.stages = nn.Sequential(OrderedDict(kept)), nn.Sequential()
        else:
            self.stages = self.stages[:int(index) + 1]
        pruned = last < len(self.feature_info) - 1
        if pruned:
            self.num_features = self.head_hidden_size = self.feature_info[last]["num_chs"]
        if prune_head or pruned:
            self.aux_head = None
            self.reset_classifier(0, "")
        return take
