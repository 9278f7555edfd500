"""Training speed: memory layout and a cheaper order for the pool branches, same numerics.

:func:`optimize_for_training` changes how a network computes, never what (to fp32
rounding) nor its parameter names, so checkpoints, optimizers and weight loading are
unaffected:

* channels-last (NHWC) parameters: oneDNN's convolutions and their backward run on NHWC
  without reordering activations to blocked layouts on every call, and the pools' NHWC
  kernels are vectorised over channels;
* "Avg Pooling → 1×1 Conv" branches run as conv → pool → BN → ReLU (:class:`PoolBranch`):
  pooling the few output channels instead of all input channels, forward and backward;
* optionally activation recompute (:meth:`Network.set_grad_checkpointing`).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import AvgPool3x3, ConvBN


class PoolBranch(nn.Sequential):
    """"Avg Pooling → 1×1 Conv" (children ``0``: the pool, ``1``: the ConvBN), computed as
    conv → pool → BN → ReLU.

    A 1×1 convolution acts per pixel and the padding-excluding average's weights sum to one,
    so pooling the convolution's output equals convolving the pooled input (exactly in real
    arithmetic, to rounding in fp32; the BatchNorm statistics too).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool, unit = self[0], self[1]
        return unit.act(unit.bn(pool(unit.conv(x))))


def is_pool_branch(m: nn.Module) -> bool:
    """``nn.Sequential(AvgPool3x3, ConvBN with a 1×1 kernel)``."""
    return (isinstance(m, nn.Sequential) and len(m) == 2 and isinstance(m[0], AvgPool3x3)
            and isinstance(m[1], ConvBN) and m[1].conv.kernel_size == (1, 1))


def reorder_pool_branches(model: nn.Module) -> nn.Module:
    """Every "Avg Pooling → 1×1 Conv" branch of ``model`` becomes a :class:`PoolBranch`, in
    place (same modules, same state-dict names); used for training and, before folding, for
    inference (:mod:`inception_v4.inference`)."""
    found = [(parent, name, child) for parent in model.modules()
             for name, child in parent.named_children()
             if is_pool_branch(child) and type(child) is nn.Sequential]
    for parent, name, child in found:
        setattr(parent, name, PoolBranch(*child))  # the same two modules, named 0 and 1
    return model


def optimize_for_training(model: nn.Module, channels_last: bool = True,
                          checkpointing: bool = False) -> nn.Module:
    """``model``, changed in place (module docstring) and returned.

    Feed it NHWC inputs (``x.contiguous(memory_format=torch.channels_last)``) when
    ``channels_last``; NCHW inputs work too, converted by the first convolution.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"optimize_for_training expects an nn.Module, got {type(model)}")
    reorder_pool_branches(model)
    if checkpointing:
        if not hasattr(model, "set_grad_checkpointing"):
            raise ValueError(f"{type(model).__name__} has no set_grad_checkpointing; "
                             f"checkpointing needs a network from create_model")
        model.set_grad_checkpointing(True)
    return model.to(memory_format=torch.channels_last) if channels_last else model
