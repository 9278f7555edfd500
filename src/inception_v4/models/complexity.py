"""Parameter and multiply-add counts, per stage: the numbers of ``inception-v4 info``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .network import Network


def count_params(module: nn.Module) -> int:
    """Learned parameters (BN scale and shift included, running statistics not)."""
    return sum(p.numel() for p in module.parameters())


def _conv_fc_macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


@torch.no_grad()
def count_macs(model: nn.Module, image_size: int = 299) -> int:
    """Convolution and fully-connected multiply-adds for one image of ``image_size``²."""
    return sum(stage_macs(model, image_size).values())


@torch.no_grad()
def stage_macs(model: nn.Module, image_size: int = 299) -> dict[str, int]:
    """Multiply-adds of each top-level part (``stem``, ``stages.i``, ``head``, …)."""
    totals: dict[str, int] = {}
    handles = []
    for name, top in model.named_children():
        for sub_name, m in top.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                key = name if name != "stages" else f"stages.{sub_name.split('.')[0]}"
                handles.append(m.register_forward_hook(_adder(totals, key)))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, getattr(model, "in_chans", 3), image_size, image_size,
                          device=_device(model)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return totals


def _device(model: nn.Module) -> torch.device:
    """Where the counting input goes: the model's device. A model built on the ``meta``
    device (``with torch.device("meta"):``) is counted from shapes alone, without arithmetic."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _adder(totals: dict[str, int], key: str):  # noqa: ANN202 - a forward hook
    def hook(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        totals[key] = totals.get(key, 0) + _conv_fc_macs(module, out)
    return hook


@dataclass
class StageRow:
    """One line of ``inception-v4 info``."""

    figure: str
    block: str
    repeats: int
    declared: tuple[int, int, int] | None  # (channels, grid, grid) the table states at 299
    actual: tuple[int, int, int]
    params: int
    macs: int


@torch.no_grad()
def stage_table(model: Network, image_size: int = 299) -> list[StageRow]:
    """Each table row with its declared and actual output shape, parameters and MACs."""
    macs = stage_macs(model, image_size)
    x = torch.zeros(1, model.in_chans, image_size, image_size, device=_device(model))
    model_was_training = model.training
    model.eval()
    rows, parts = [], [("stem", model.stem)] + [
        (f"stages.{i}", s) for i, s in enumerate(model.stages)]
    for row, (key, part) in zip(model.spec.stages, parts, strict=True):
        x = part(x)
        declared = (row.out[1], row.out[0], row.out[0]) if image_size == 299 else None
        rows.append(StageRow(row.figure, row.block.__name__, row.repeats, declared,
                             tuple(x.shape[1:]), count_params(part), macs.get(key, 0)))
    model.train(model_was_training)
    return rows
