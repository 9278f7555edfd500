"""The fused graph compiled by inductor with freezing, for one batch size.

Inductor runs the convolutions as oneDNN's, with ReLU and residual sums as post-ops, and the
element-wise rest as generated C++ loops. Freezing makes the weights constants that inductor
folds and prepacks at compile time. Its binary-folding pass is what moves timm's
Inception-ResNet-v2 by 0.17 relative (docs/performance.md); the fused graph we compile has
no constant scale left after a convolution for it to fold.

:class:`CompiledInference` wraps the compiled graph. It compiles for one batch size (the
first it is called with, or the one given) and runs other batch sizes as chunks of that size,
the last one padded: a model used by ``evaluate`` (whose last batch is smaller) compiles
once, not once per batch size. It forwards the attributes the commands read
(``pretrained_cfg``, ``spec``, ``num_classes``...) from the network it was made from.
Compiled graphs are cached on disk by inductor (``TORCHINDUCTOR_CACHE_DIR``, by default
under the system's temporary folder), so a second start with the same network and batch size
is much faster than the first (docs/performance.md gives the figures).
"""

from __future__ import annotations

import torch
from torch import nn
from torch._inductor import config as inductor_config

# What the commands and the data transforms read from a network (forwarded from the source).
FORWARDED = ("spec", "num_classes", "pretrained_cfg", "init_args", "in_chans",
             "num_features", "feature_info")
INDUCTOR_OPTIONS = {"freezing": True}


class CompiledInference(nn.Module):
    """``graph`` compiled by inductor (freezing on) for inference at one batch size.

    ``constant_weights=True`` (the default) lets Dynamo see freezing as well (the config is
    patched around the call), so the weights become constants that inductor folds and
    prepacks, so it can fuse ReLU and sums into the oneDNN convolutions; the int8 lowering needs
    it. ``False`` passes freezing as an inductor option only: the weights stay graph inputs.
    Freezing's binary folding moves timm's Inception-ResNet-v2 logits by 0.17 relative
    (docs/performance.md); our fused graph has the residual scales folded already (float64),
    leaves it nothing to fold, and stays within 3e-6 at full size.
    ``batch_size=None`` fixes the size at the first call. Inputs are made channels-last
    (the layout the graph was compiled for) and run under ``torch.no_grad``. The module is for
    inference only: ``train()`` raises, ``eval()`` is a no-op.
    """

    def __init__(self, graph: nn.Module, source: nn.Module, batch_size: int | None = None,
                 constant_weights: bool = True) -> None:
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (or None: the first call's), got "
                             f"{batch_size}")
        self.constant_weights = constant_weights
        self.graph = torch.compile(graph, dynamic=False,
                                   options=None if constant_weights else INDUCTOR_OPTIONS)
        self.batch_size = batch_size
        for name in FORWARDED:
            if hasattr(source, name):
                setattr(self, name, getattr(source, name))
        self.training = False

    def train(self, mode: bool = True) -> CompiledInference:
        if mode:
            raise ValueError("a compiled inference model cannot train; build the network "
                             "again (without optimize_for_inference) to train it")
        return self

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected images N x C x H x W, got shape {tuple(x.shape)}")
        size = self.batch_size = self.batch_size or x.shape[0]
        x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for part in x.split(size):
            n = part.shape[0]
            if n < size:  # pad to the compiled size: one graph for every batch size
                pad = part.new_zeros((size - n, *part.shape[1:]))
                part = torch.cat([part, pad]).contiguous(memory_format=torch.channels_last)
            with inductor_config.patch(freezing=self.constant_weights):  # read by Dynamo too
                outs.append(self.graph(part)[:n])
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def extra_repr(self) -> str:
        return f"batch_size={self.batch_size}, constant_weights={self.constant_weights}"
