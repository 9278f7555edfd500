"""Networks are data: a table of stages (one per schema figure) and one generic builder.

A :class:`NetSpec` is the table of a schema figure (Fig. 9, Fig. 15): each :class:`Stage` row
names the block figure, how often it repeats, the channel counts as printed and the output
shape the figure declares for a 299×299 input. :class:`Network` turns any table into a
module with ``stem`` → ``stages`` → ``head`` and the timm-style API.
"""

# No ``from __future__ import annotations`` here: torch.fx copies ``forward``'s annotation
# into the traced graph's code, and a string annotation there ("torch.Tensor") is a name
# TorchScript cannot resolve (timm's FX → torch.jit.script test).
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch import nn

from ..layers import ConvBN, ShiftBatchNorm2d
from .heads import AuxHead, ClassifierHead, EmbeddingHead
from .intermediates import Intermediates, feature_info
from .preprocessing import IMAGENET_CFG, MIN_INPUT_SIZE
from .recompute import run_blocks


@dataclass(frozen=True)
class Stage:
    """One row of a schema table: ``repeats`` copies of ``block`` built from ``channels``."""

    figure: str
    block: type[nn.Module]
    repeats: int
    channels: tuple
    out: tuple[int, int]  # declared (grid, channels) at 299×299 input
    scale: float | None = None  # residual scale of Fig. 20; None for blocks without residual
    activate: bool = True  # ReLU after the residual sum
    aux: bool = False  # the auxiliary head reads this stage's output
    note: str = ""


@dataclass(frozen=True)
class NetSpec:
    """The table of one network plus what its head and preprocessing look like."""

    name: str
    stages: tuple[Stage, ...]
    head: str = "classifier"  # or "embedding" (FaceNet)
    num_classes: int = 1000
    bn_scale: bool = True
    # the input it takes (preprocessing.py)
    pretrained_cfg: Mapping[str, Any] = field(default_factory=lambda: dict(IMAGENET_CFG))

    @property
    def input_size(self) -> int:
        """The side of the square input the network is made for (299; FaceNet 160)."""
        return int(self.pretrained_cfg["input_size"][-1])


def scale_width(channels: Any, width: float) -> Any:
    """Multiply every channel literal in a (nested) tuple; multiples of 8, never below 8."""
    if isinstance(channels, tuple):
        return tuple(scale_width(c, width) for c in channels)
    if width == 1.0:
        return channels
    return max(8, int(round(channels * width / 8)) * 8)


def transform_spec(spec: NetSpec, width: float = 1.0, depth: float = 1.0,
                   residual_scale: float | None = None) -> NetSpec:
    """The same table, narrower/wider (``width``), shallower/deeper (``depth``, applied to
    rows that repeat), or with another residual scale (not the unscaled final block)."""
    rows = []
    for s in spec.stages:
        repeats = max(1, int(round(s.repeats * depth))) if s.repeats > 1 else s.repeats
        scale = s.scale
        if residual_scale is not None and s.scale is not None and s.activate:
            scale = residual_scale
        rows.append(dataclasses.replace(
            s, channels=scale_width(s.channels, width), repeats=repeats, scale=scale))
    return dataclasses.replace(spec, stages=tuple(rows))


def build_stage(row: Stage, in_ch: int, residual: bool) -> nn.Sequential:
    """``row.repeats`` blocks in a row; residual blocks get the row's scale and activation."""
    blocks = []
    for _ in range(row.repeats):
        if row.scale is None:
            block = row.block(in_ch, row.channels)
        else:
            block = row.block(in_ch, row.channels, scale=row.scale,
                              activate=row.activate, residual=residual)
        blocks.append(block)
        in_ch = block.out_channels
    return nn.Sequential(*blocks)


def _remove_bn_scale(module: nn.Module) -> None:
    """Swap every BatchNorm2d for one without learned scale (TF-slim ``scale=False``)."""
    for m in module.modules():
        if isinstance(m, ConvBN) and isinstance(m.bn, nn.BatchNorm2d) and m.bn.affine:
            m.bn = ShiftBatchNorm2d(m.bn.num_features)


def check_image_batch(x: torch.Tensor, in_chans: int, name: str, size: int) -> None:
    """Fail early, saying what is wrong, on inputs the network cannot take (a leaf for
    ``torch.fx``: traced graphs run it on the real input)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"input x must be a 4-d tensor (N, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)}")
    if not x.is_floating_point():
        raise TypeError(f"input x has dtype {x.dtype}; the model takes floating-point "
                        f"images (e.g. x.float(), normalised as pretrained_cfg says)")
    if x.shape[1] != in_chans:
        raise ValueError(f"input x has {x.shape[1]} channels, the model expects "
                         f"in_chans={in_chans}")
    if x.shape[0] == 0:
        raise ValueError("input x is an empty batch (N=0); pass at least one image")
    if min(x.shape[-2:]) < MIN_INPUT_SIZE:
        raise ValueError(f"input x is {x.shape[-2]}×{x.shape[-1]}; {name} needs at least "
                         f"{MIN_INPUT_SIZE}×{MIN_INPUT_SIZE} (default {size}×{size})")


torch.fx.wrap("check_image_batch")


class Network(Intermediates, nn.Module):
    """stem → stages → head, built from a :class:`NetSpec`, with timm's model API."""

    grad_checkpointing = False  # see set_grad_checkpointing
    __jit_unused_properties__ = ["default_cfg"]

    def __init__(self, spec: NetSpec, num_classes: int, in_chans: int = 3,
                 drop_rate: float = 0.2, aux_logits: bool = False, residual: bool = True,
                 global_pool: str = "avg") -> None:
        super().__init__()
        self.spec, self.in_chans, self.min_input_size = spec, in_chans, MIN_INPUT_SIZE
        self.stem = spec.stages[0].block(in_chans, spec.stages[0].channels)
        stages, ch = [], self.stem.out_channels
        for row in spec.stages[1:]:
            stages.append(build_stage(row, ch, residual))
            ch = stages[-1][-1].out_channels
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = ch  # the width forward_head's pre_logits has
        head = EmbeddingHead if spec.head == "embedding" else ClassifierHead
        self.head = head(ch, num_classes, drop_rate, global_pool)
        aux = [i for i, r in enumerate(spec.stages[1:]) if r.aux]
        self.aux_stage = aux[0] if aux else -1  # -1: none (an int, for TorchScript)
        self.aux_head = None
        if aux_logits and aux:
            self.aux_head = AuxHead(self.stages[self.aux_stage][-1].out_channels, num_classes)
        if not spec.bn_scale:
            _remove_bn_scale(self)
        self.feature_info = feature_info(self.named_layers(), in_chans)

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's older name for ``pretrained_cfg``."""
        return self.pretrained_cfg

    @default_cfg.setter
    def default_cfg(self, cfg: dict[str, Any]) -> None:
        self.pretrained_cfg = cfg

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Stem parts and stages in order: the points features can be taken from."""
        layers = [(f"stem.{n}", m) for n, m in self.stem.named_children()]
        return layers + [(f"stages.{i}", m) for i, m in enumerate(self.stages)]

    @torch.jit.unused
    def check_input(self, x: torch.Tensor) -> None:
        """Fail early, saying what is wrong, on inputs the network cannot take."""
        check_image_batch(x, self.in_chans, self.spec.name, self.spec.input_size)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, str]:
        """timm's parameter groups (layer-wise decay, freezing): the stem, then each block
        (``coarse``: each stage); the heads fall in the last group."""
        return {"stem": r"^stem\.", "blocks": r"^stages\.(\d+)" if coarse else
                r"^stages\.(\d+)\.(\d+)"}

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """None beyond timm's rule (no decay on 1-d parameters: BN, biases), the paper's."""
        return set()

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """In training, store only some block inputs and recompute the rest in backward
        (timm's API; :mod:`inception_v4.models.recompute`). Same gradients and running
        statistics, less memory, about one more forward pass per step."""
        self.grad_checkpointing = enable

    @torch.jit.export
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map before the average pool (N × num_features × 8 × 8 at 299)."""
        return self._forward_body(x)[0]

    @torch.jit.unused
    def _forward_recompute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_forward_body` with activation recompute: each stem part is one segment."""
        x, aux_in = run_blocks(self.stem, x, True, per_segment=1), x
        for i, stage in enumerate(self.stages):
            x = run_blocks(stage, x, True)
            aux_in = x if i == self.aux_stage else aux_in
        return x, aux_in

    def _forward_body(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(last feature map, the auxiliary head's input: the aux stage's output)."""
        if not torch.jit.is_scripting():
            self.check_input(x)
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                return self._forward_recompute(x)
        else:  # TorchScript: the shape check alone, as an assert (the messages do not script)
            torch._assert(x.dim() == 4 and x.shape[1] == self.in_chans
                          and min(x.shape[-2], x.shape[-1]) >= self.min_input_size,
                          "input x must be N × in_chans × H × W, H and W at least "
                          "min_input_size (the eager model says more)")
        x = self.stem(x)
        aux_in = x
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == self.aux_stage:
                aux_in = x
        return x, aux_in

    @torch.jit.export
    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with ``aux_logits=True``, ``(logits, aux_logits)``."""
        feats, aux_in = self._forward_body(x)
        logits = self.forward_head(feats, pre_logits=False)
        if self.aux_head is not None and self.training:
            return logits, self.aux_head(aux_in)
        return logits

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    @torch.jit.ignore
    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new, freshly initialised classifier (and auxiliary classifier) for
        ``num_classes`` (0: none); ``global_pool`` ``'avg'`` or ``''`` (default: unchanged)."""
        ref = next(self.stem.parameters())
        self.head.in_features = self.num_features
        self.head.reset(num_classes, global_pool)
        self.head.to(ref.device, ref.dtype).train(self.training)
        if self.aux_head is not None:
            self.aux_head.reset(num_classes)
            self.aux_head.to(ref.device, ref.dtype).train(self.training)
        if hasattr(self, "init_args"):  # what save_pretrained records
            self.init_args.update(num_classes=num_classes, global_pool=self.head.global_pool)
        if hasattr(self, "pretrained_cfg"):
            self.pretrained_cfg = {**self.pretrained_cfg, "num_classes": num_classes}
