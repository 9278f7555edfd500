"""RMSProp with TensorFlow semantics, and the optimiser a config asks for.

TF1 ``RMSPropOptimizer`` (the paper's optimiser; ``docs/recipe.md``, "RMSProp")::

    ms  = ms + (g² − ms)·(1 − decay)         # ms starts at ONES, not zeros
    mom = momentum·mom + lr·g / sqrt(ms + ε)  # ε INSIDE the root; lr folded into mom
    w   = w − mom

``torch.optim.RMSprop`` starts ``ms`` at zero, adds ε outside the root and multiplies by
the learning rate after the momentum buffer; with the paper's ε = 1.0 the two differ a lot.

Weight decay is coupled L2 (``g += wd·w``, what slim's ``l2_regularizer`` adds to the loss)
on convolution and fully-connected weights only (tensors with more than one dimension):
BatchNorm parameters and biases are not decayed. Inception-v4's slim arg scope does the same;
the released Inception-ResNet-v2 arg scope also decays the biases of its residual
projections and classifier, which we do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .config import TrainConfig


class RMSpropTF(torch.optim.Optimizer):
    """RMSProp as TensorFlow 1 computes it (see the module docstring).

    ``foreach``: update a group's tensors with a few multi-tensor (``torch._foreach_*``)
    kernels instead of eight per tensor. None (default) chooses it when every parameter is on
    a GPU, as torch's optimisers do: on the CPU the multi-tensor ops loop over the tensors
    anyway, with whole-model temporaries, and measured twice as slow.
    """

    def __init__(self, params: Iterable, lr: float = 0.045, decay: float = 0.9,
                 momentum: float = 0.9, eps: float = 1.0, weight_decay: float = 0.0,
                 foreach: bool | None = None) -> None:
        if lr < 0 or eps < 0 or not 0 <= decay < 1 or not 0 <= momentum < 1:
            raise ValueError(f"RMSpropTF: invalid lr={lr}, decay={decay}, momentum={momentum}, "
                             f"eps={eps}")
        defaults = {"lr": lr, "decay": decay, "momentum": momentum, "eps": eps,
                    "weight_decay": weight_decay}
        super().__init__(params, defaults)
        self.foreach = foreach

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 - torch.optim signature
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if not self.state[p]:
                    self.state[p]["square_avg"] = torch.ones_like(
                        p, memory_format=torch.preserve_format)
                    self.state[p]["momentum_buffer"] = torch.zeros_like(
                        p, memory_format=torch.preserve_format)
            foreach = self.foreach
            if foreach is None:
                foreach = all(p.device.type == "cuda" for p in params)
            if foreach and params:
                _update_foreach(params, [self.state[p] for p in params], group)
            else:
                for p in params:
                    _update_one(p, self.state[p], group)
        return loss


def _update_one(p: torch.Tensor, state: dict, group: dict) -> None:
    g = p.grad
    if group["weight_decay"]:
        g = g.add(p, alpha=group["weight_decay"])
    ms, mom = state["square_avg"], state["momentum_buffer"]
    ms.add_(g.square().sub_(ms), alpha=1.0 - group["decay"])
    mom.mul_(group["momentum"]).addcdiv_(g, ms.add(group["eps"]).sqrt_(), value=group["lr"])
    p.sub_(mom)


def _update_foreach(params: list[torch.Tensor], states: list[dict], group: dict) -> None:
    """:func:`_update_one` for every tensor of a group at once, the same operations in the
    same order."""
    grads = [p.grad for p in params]
    if group["weight_decay"]:
        grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
    ms = [state["square_avg"] for state in states]
    mom = [state["momentum_buffer"] for state in states]
    delta = torch._foreach_mul(grads, grads)  # g² - ms, then sqrt(ms + eps) in the same memory
    torch._foreach_sub_(delta, ms)
    torch._foreach_add_(ms, delta, alpha=1.0 - group["decay"])
    torch._foreach_copy_(delta, ms)
    torch._foreach_add_(delta, group["eps"])
    torch._foreach_sqrt_(delta)
    torch._foreach_mul_(mom, group["momentum"])
    torch._foreach_addcdiv_(mom, grads, delta, value=group["lr"])
    torch._foreach_sub_(params, mom)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: conv/FC weights (ndim > 1) with ``weight_decay``; the rest without."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def step_in_backward(optimizer: torch.optim.Optimizer) -> list[RemovableHandle]:
    """Fuses ``optimizer.step()`` into backward: each parameter is updated as soon as its
    gradient is complete, and that gradient is freed at once.

    Without it every gradient is alive at the end of backward, which is where the peak of a
    checkpointed step is (the stem is recomputed last): a network's worth of memory. Train
    with ``loss.backward()`` alone then: no ``step()``, no ``zero_grad()``. The update is the
    one ``step()`` makes when a parameter's update depends only on its own gradient and state
    (RMSProp, SGD, Adam); not for global-norm clipping, gradient scaling, gradient
    accumulation or DDP, which need every gradient before any step. Learning rates set on
    the param groups take effect at the next backward; ``state_dict`` is unchanged.
    Returns the hook handles (``handle.remove()`` turns it off).
    """
    return [p.register_post_accumulate_grad_hook(partial(_step_one, optimizer, i))
            for i, group in enumerate(optimizer.param_groups) for p in group["params"]
            if p.requires_grad]


def _step_one(optimizer: torch.optim.Optimizer, index: int, p: torch.Tensor) -> None:
    """``optimizer.step()`` on ``p`` alone (a one-parameter view of its group, looked up now:
    ``load_state_dict`` replaces the group dicts), then frees the gradient."""
    groups = optimizer.param_groups
    optimizer.param_groups = [{**groups[index], "params": [p]}]
    try:
        optimizer.step()
    finally:
        optimizer.param_groups = groups
    p.grad = None


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` (lr is set every step by the schedule)."""
    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "rmsprop_tf":
        return RMSpropTF(groups, lr=config.lr, decay=config.rmsprop_decay,
                         momentum=config.momentum, eps=config.rmsprop_eps)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose rmsprop_tf or sgd")
