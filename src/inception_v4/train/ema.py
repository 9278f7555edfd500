"""The running average of the parameters the paper evaluates on (§4).

An exponential moving average of every floating-point tensor of the model's state: the
parameters and the BatchNorm running mean and variance. Integer buffers (BN's
``num_batches_tracked``) are copied. With ``warmup`` the decay at update ``t`` (counted from
0) is ``min(decay, (1 + t) / (10 + t))``, TF ``ExponentialMovingAverage(decay, num_updates)``
as the Inception training code uses it, so early averages are not dominated by the
initialisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """An averaged copy of a model: ``update(model)`` after each optimiser step."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"averaging decay must be in [0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.warmup, self.updates = decay, warmup, 0

    def current_decay(self) -> float:
        """The decay the next update uses."""
        if self.warmup:
            return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Average ``model``'s floating-point state in (one multi-tensor ``lerp``), copy the
        rest."""
        d = self.current_decay()
        current = model.state_dict()
        floats, new_floats, others, new_others = [], [], [], []
        for name, avg in self.module.state_dict().items():
            new = current[name].detach()
            if avg.is_floating_point():
                floats.append(avg)
                new_floats.append(new if new.dtype == avg.dtype else new.to(avg.dtype))
            else:
                others.append(avg)
                new_others.append(new)
        if floats:
            torch._foreach_lerp_(floats, new_floats, 1.0 - d)
        if others:
            torch._foreach_copy_(others, new_others)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
