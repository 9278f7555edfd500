"""Training options for memory and speed: the optimiser step in backward, checkpointing and
channels-last in `train`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from memory_helpers import peak_allocated_bytes
from torch import nn
from train_helpers import make_image_folder

from inception_v4 import cli, create_model
from inception_v4.models import PoolBranch
from inception_v4.train import RMSpropTF, TrainConfig, param_groups, step_in_backward
from inception_v4.train.build import build_net, new_network
from inception_v4.train.distributed import Dist
from inception_v4.train.run import build_run

SMALL = {"width": 0.25, "depth": 0.2, "num_classes": 5}


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(3)  # the same dropout mask in every contestant
    return F.cross_entropy(model(x), y)


def _optimizers(model: nn.Module) -> list[torch.optim.Optimizer]:
    return [RMSpropTF(param_groups(model, 4e-5), lr=0.01),
            torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, eps=1.0)]


@pytest.mark.parametrize("which", [0, 1], ids=["rmsprop_tf", "torch_rmsprop"])
def test_step_in_backward_makes_the_same_updates(which: int) -> None:
    plain = create_model("inception_resnet_v2", **SMALL).train()
    fused = copy.deepcopy(plain)
    fused.set_grad_checkpointing()  # the combination the memory option is for
    opt_plain, opt_fused = _optimizers(plain)[which], _optimizers(fused)[which]
    step_in_backward(opt_fused)
    x, y = torch.randn(4, 3, 75, 75), torch.tensor([0, 1, 2, 4])
    for lr in (0.01, 0.003, 0.02):
        for opt in (opt_plain, opt_fused):
            for group in opt.param_groups:
                group["lr"] = lr
        _loss(plain, x, y).backward()
        opt_plain.step()
        opt_plain.zero_grad(set_to_none=True)
        _loss(fused, x, y).backward()  # no step(): the hooks made it
        assert all(p.grad is None for p in fused.parameters())
        # load_state_dict replaces the group dicts; the hooks must follow the new ones
        opt_fused.load_state_dict(copy.deepcopy(opt_fused.state_dict()))
    for (name, p), q in zip(plain.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=1e-5, msg=name)
    for (name, b), c in zip(plain.named_buffers(), fused.buffers(), strict=True):
        torch.testing.assert_close(c, b, atol=1e-6, rtol=1e-5, msg=name)


def _peak_step_bytes(model: nn.Module, opt: torch.optim.Optimizer, fused: bool) -> int:
    """Peak bytes above the start of one training step."""
    x, y = torch.randn(2, 3, 75, 75), torch.tensor([0, 1])

    def step() -> None:
        _loss(model, x, y).backward()
        if not fused:
            opt.step()
            opt.zero_grad(set_to_none=True)
    return peak_allocated_bytes(step)


def test_step_in_backward_never_holds_all_gradients() -> None:
    plain = create_model("inception_resnet_v2", **SMALL).train()
    plain.set_grad_checkpointing()
    fused = copy.deepcopy(plain)
    opt_plain, opt_fused = _optimizers(plain)[1], _optimizers(fused)[1]
    step_in_backward(opt_fused)
    for model, opt, is_fused in ((plain, opt_plain, False), (fused, opt_fused, True)):
        _peak_step_bytes(model, opt, is_fused)  # optimiser state allocated once
    grads = sum(p.numel() * p.element_size() for p in plain.parameters())
    saved = _peak_step_bytes(plain, opt_plain, False) - _peak_step_bytes(fused, opt_fused, True)
    assert saved > 0.8 * grads


def test_step_in_backward_refuses_what_needs_every_gradient() -> None:
    with pytest.raises(ValueError, match="clip_grad_norm=0"):
        TrainConfig(step_in_backward=True)  # the paper preset clips at 2.0
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(step_in_backward=True, clip_grad_norm=0.0, amp="fp16")
    TrainConfig(step_in_backward=True, clip_grad_norm=0.0, amp="bf16")
    config = TrainConfig(model="inception_resnet_v1", width=0.25, depth=0.2, image_size=75,
                         step_in_backward=True, clip_grad_norm=0.0)
    two_ranks = Dist(rank=0, world=2, local_rank=0, device=torch.device("cpu"), owns_group=False)
    with pytest.raises(ValueError, match="one process only"):  # DDP reduces after backward
        build_run(config, two_ranks, new_network(config, 3), steps_per_epoch=1)


def _train(data: Path, out: Path, *flags: str) -> dict[str, torch.Tensor]:
    code = cli.main(["train", "--model", "inception_resnet_v2", "--data", str(data),
                     "--out", str(out), "--width", "0.25", "--depth", "0.2", "--image-size",
                     "75", "--batch-size", "8", "--epochs", "2", "--workers", "0",
                     "--set", "clip_grad_norm=0", "--set", "lr=0.01", *flags])
    assert code == 0
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)["model"]


def test_train_cli_memory_options_train_the_same_weights(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data")
    plain = _train(data, tmp_path / "plain")
    options = ("--grad-checkpointing", "--step-in-backward")
    # stopped after 4 of 6 steps and resumed: the restored optimiser keeps stepping in backward
    _train(data, tmp_path / "lean", *options, "--set", "max_steps=4")
    lean = _train(data, tmp_path / "lean", *options)
    assert lean.keys() == plain.keys()
    for name, value in plain.items():
        torch.testing.assert_close(lean[name], value, atol=1e-5, rtol=1e-4, msg=name)


def test_train_channels_last_also_reorders_pool_branches() -> None:
    config = TrainConfig(model="inception_v4", width=0.25, depth=0.2, channels_last=True)
    fast = build_net(config, 3, torch.device("cpu"))
    plain = build_net(TrainConfig(model="inception_v4", width=0.25, depth=0.2), 3,
                      torch.device("cpu"))
    assert any(isinstance(m, PoolBranch) for m in fast.modules())
    assert fast.stem.conv1a.conv.weight.is_contiguous(memory_format=torch.channels_last)
    # same seeded weights under the same names: checkpoints move between the two
    assert fast.state_dict().keys() == plain.state_dict().keys()
    for name, value in plain.state_dict().items():
        assert torch.equal(fast.state_dict()[name], value), name
