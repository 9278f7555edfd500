"""Training under bf16 autocast (``--amp bf16``) follows float32 training within bf16's
bound (:mod:`inception_v4.tolerances`), on every CPU level (``make test-isa``).

BatchNorm uses fixed, non-trivial statistics here (as in fine-tuning with frozen BN): with
batch statistics, a random network's channels on 4 images have a variance far below their
mean², and subtracting the mean of bf16-rounded activations cancels catastrophically in any
8-bit-significand format (logits off by ~0.2, measured): that is BatchNorm's arithmetic,
not the bf16 convolution kernels this test is about."""

from __future__ import annotations

import math

import pytest
import torch
from test_optimize import randomise_bn

from inception_v4.models import build_network
from inception_v4.tolerances import rel_tol
from inception_v4.train.config import TrainConfig
from inception_v4.train.step import autocast, compute_loss


def _loss_and_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                       amp: str) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    with autocast(torch.device("cpu"), amp):
        loss = compute_loss(model(x), y, TrainConfig())
    loss.backward()
    loss = loss.detach()
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return float(loss), torch.cat(grads).float()


@pytest.mark.isa
@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_bf16_autocast_step_matches_float32_within_bf16_bound(name: str) -> None:
    model = build_network(name, num_classes=10, width=0.25, depth=0.2, drop_rate=0.0)
    model = randomise_bn(model).eval()
    x, y = torch.randn(4, 3, 75, 75), torch.arange(4) % 10
    loss32, grad32 = _loss_and_gradient(model, x, y, "off")
    loss16, grad16 = _loss_and_gradient(model, x, y, "bf16")
    assert abs(loss16 - loss32) / abs(loss32) <= rel_tol("bfloat16"), (loss16, loss32)
    # The backward pass runs the layers a second time: √2 more roundings in the walk.
    error = float((grad16 - grad32).norm() / grad32.norm())
    assert error <= rel_tol("bfloat16") * math.sqrt(2), error
    assert error > 0  # bf16 really ran: its roundings show
