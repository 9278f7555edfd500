"""The multi-tensor (``torch._foreach_*``) TF-RMSProp step and parameter average equal the
per-tensor ones: the optimiser's own per-tensor path (still its CPU default, faster there),
and the average's former implementation (kept here, verbatim, as the reference)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from inception_v4 import create_model
from inception_v4.train import ModelEma, RMSpropTF, param_groups


class PerTensorEma(ModelEma):
    """The average before the foreach rewrite: one ``lerp_``/``copy_`` per tensor."""

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        current = model.state_dict()
        for name, avg in self.module.state_dict().items():
            new = current[name].detach()
            if avg.is_floating_point():
                avg.lerp_(new.to(avg.dtype), 1.0 - d)
            else:
                avg.copy_(new)
        self.updates += 1


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, ema: ModelEma,
           steps: int) -> None:
    """``steps`` steps on fixed batches, changing the learning rate as the schedule does."""
    g = torch.Generator().manual_seed(1)
    for step in range(steps):
        x, y = torch.randn(2, 3, 75, 75, generator=g), torch.randint(0, 5, (2,), generator=g)
        for group in optimizer.param_groups:
            group["lr"] = 0.01 * (1 + step)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(model)


def test_foreach_rmsprop_tf_and_average_match_per_tensor() -> None:
    """Two steps of a width-0.25 Inception-ResNet-v2 with weight decay on the conv weights
    (two groups) and a running average; weights, optimiser state and average agree to fp32
    rounding (the same operations in the same order: on the CPU, bit for bit)."""
    old = create_model("inception_resnet_v2", num_classes=5, width=0.25, depth=0.2,
                       drop_rate=0.0).train()
    new = copy.deepcopy(old)
    old_opt = RMSpropTF(param_groups(old, 4e-5), lr=0.01, eps=1.0, foreach=False)
    new_opt = RMSpropTF(param_groups(new, 4e-5), lr=0.01, eps=1.0, foreach=True)
    old_ema, new_ema = PerTensorEma(old, decay=0.9), ModelEma(new, decay=0.9)
    start = copy.deepcopy(old.state_dict())
    _train(old, old_opt, old_ema, 2)
    _train(new, new_opt, new_ema, 2)
    for (name, a), b in zip(old.state_dict().items(), new.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    for (name, a), b in zip(old_ema.module.state_dict().items(),
                            new_ema.module.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    for p, q in zip(old.parameters(), new.parameters(), strict=True):
        for key in ("square_avg", "momentum_buffer"):
            torch.testing.assert_close(new_opt.state[q][key], old_opt.state[p][key],
                                       rtol=1e-6, atol=1e-7)
    # not trivial: the weights moved, and the average lies between the start and them
    name = "stem.conv1a.conv.weight"
    moved = (new.state_dict()[name] - start[name]).abs().max()
    lag = (new.state_dict()[name] - new_ema.module.state_dict()[name]).abs().max()
    assert moved > 1e-3 and 0 < lag < moved
    assert new_ema.updates == old_ema.updates == 2
