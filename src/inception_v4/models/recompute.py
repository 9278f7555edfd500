"""Activation recompute ("checkpointing"): keep a few block inputs, recompute the rest in
backward.

The paper's problem of fitting large networks on one device: at equal batch size the
activations stored for backward shrink to the inputs of checkpoint segments, at the cost of
a second forward pass through every segment during backward. Each stem part is a segment;
each stage of n blocks is cut into segments of ceil(√n) blocks (Chen et al. 2016, "Training
deep nets with sublinear memory cost"), which stores √n inputs and recomputes √n blocks at a
time. Gradients are those of the plain model; the recomputation does not update BatchNorm
running statistics a second time.

Under ``torch.compile`` the recomputation is planned on the traced graph, where the running
statistics are updated in the forward graph only, so no context is passed there: Dynamo
accepts only selective-checkpoint contexts as ``context_fn``, and rejected the closure this
module passed before (``InternalTorchDynamoError``).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class KeepRunningStats(contextlib.AbstractContextManager):
    """Restores the BatchNorm running statistics of ``modules`` on exit (for recomputation)."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.norms = [m for module in modules for m in module.modules()
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


def _run(blocks: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x = block(x)
    return x


def run_blocks(blocks: Sequence[nn.Module], x: torch.Tensor, recompute: bool = False,
               per_segment: int | None = None) -> torch.Tensor:
    """``x`` through ``blocks`` in order; with ``recompute``, as checkpoint segments
    (non-reentrant) of ``per_segment`` blocks (default ceil(√n)) whose activations are
    recomputed in backward."""
    blocks = list(blocks)
    if not recompute:
        return _run(blocks, x)
    k = per_segment or max(1, math.ceil(math.sqrt(len(blocks))))
    compiling = torch.compiler.is_compiling()
    for i in range(0, len(blocks), k):
        part = blocks[i:i + k]
        if compiling:
            x = checkpoint(_run, part, x, use_reentrant=False)
        else:
            x = checkpoint(_run, part, x, use_reentrant=False,
                           context_fn=functools.partial(_keep_stats_contexts, part))
    return x


def _keep_stats_contexts(blocks: Sequence[nn.Module]
                         ) -> tuple[contextlib.nullcontext, KeepRunningStats]:
    """Checkpoint's ``context_fn``: nothing around the forward, the BN statistics restored
    around the recomputation."""
    return contextlib.nullcontext(), KeepRunningStats(blocks)
