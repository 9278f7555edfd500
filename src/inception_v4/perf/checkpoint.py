"""Activation checkpointing: keep only each block's input, recompute the rest in backward.

The paper's problem of fitting large networks on one device: at equal batch size the
activations stored for backward shrink to the block inputs, at the cost of a second forward
pass through each block during backward. Gradients are those of the plain model; the
recomputation does not update BatchNorm running statistics a second time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class KeepRunningStats(contextlib.AbstractContextManager):
    """Restores the BatchNorm running statistics of ``module`` on exit (for recomputation)."""

    def __init__(self, module: nn.Module) -> None:
        self.norms = [m for m in module.modules()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        self.saved: list[list[torch.Tensor]] = []

    def __enter__(self) -> KeepRunningStats:
        self.saved = [[b.clone() for b in _stats(m)] for m in self.norms]
        return self

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for m, saved in zip(self.norms, self.saved, strict=True):
                for buf, value in zip(_stats(m), saved, strict=True):
                    buf.copy_(value)


def _stats(m: nn.modules.batchnorm._BatchNorm) -> list[torch.Tensor]:
    return [t for t in (m.running_mean, m.running_var, m.num_batches_tracked) if t is not None]


def checkpoint_blocks(blocks: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``x`` through ``blocks`` in order, each one a checkpoint segment (non-reentrant)."""
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=False,
                       context_fn=lambda b=block: (contextlib.nullcontext(), KeepRunningStats(b)))
    return x
