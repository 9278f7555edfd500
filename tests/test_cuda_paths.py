"""The CUDA paths' defects (issue #24), each shown on the CPU where the behaviour allows:
compile with activation recompute, resume on another device, device selection under
torchrun, the inference head's device, the bench's device."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from inception_v4 import create_model
from inception_v4.models.recompute import run_blocks
from inception_v4.train import TrainConfig, run_state
from inception_v4.train.build import build_run
from inception_v4.train.distributed import Dist
from inception_v4.train.fit import resume_run


def _grads_and_stats(blocks: torch.nn.Module, forward: Callable, x: torch.Tensor
                     ) -> list[torch.Tensor]:
    (forward(x) * torch.linspace(-1, 1, x.shape[1])[:, None, None]).sum().backward()
    return ([p.grad.clone() for p in blocks.parameters()]
            + [b.clone() for b in blocks.buffers() if b.is_floating_point()])


def test_compile_with_grad_checkpointing_matches_eager() -> None:
    """Dynamo rejected the closure passed as ``context_fn`` (InternalTorchDynamoError); now
    compiled recompute segments give the plain blocks' gradients and update the BatchNorm
    statistics once. ``aot_eager`` traces and partitions as inductor does, without codegen;
    the whole network compiled with ``train --compile --grad-checkpointing`` is a step of
    ``benchmarks/gpu_smoke.sh``."""
    torch._dynamo.reset()
    net = create_model("inception_resnet_v2", num_classes=3, width=0.25, depth=0.2).train()
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        x = net.stages[:1](net.stem(x))
    plain, recompute = copy.deepcopy(net.stages[1]), copy.deepcopy(net.stages[1])
    assert len(plain) == 2  # two segments of one block
    want = _grads_and_stats(plain, plain, x)
    compiled = torch.compile(functools.partial(run_blocks, list(recompute), recompute=True, per_segment=1),
                             backend="aot_eager")
    got = _grads_and_stats(recompute, compiled, x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    moved = [b for b, b0 in zip(plain.buffers(), net.stages[1].buffers(), strict=True)
             if b.is_floating_point() and not torch.equal(b, b0)]
    assert moved  # the running statistics did move (once: equal to the plain blocks')


def test_resume_on_another_device_keeps_the_rng_state_on_the_cpu(tmp_path: Path) -> None:
    """``--resume`` on a GPU loaded the checkpoint with ``map_location=device``: the NumPy RNG
    state became a device tensor with no ``.numpy()``. The run state is now read on the CPU
    whatever the run's device (here ``meta`` stands for a GPU: a map there fails as a CUDA
    one did) and ``load_state_dict`` places each tensor."""
    config = TrainConfig(model="inception_v4", width=0.25, depth=0.2, image_size=75,
                         out=str(tmp_path), device="cpu")
    d = Dist(0, 1, 0, torch.device("cpu"), False)
    run = build_run(config, d, num_classes=3, steps_per_epoch=5)
    run.step, run.position = 3, 3
    np.random.seed(7)
    saved_numpy = np.random.get_state()[1].copy()
    run_state.save_run(run)
    np.random.seed(8)
    fresh = build_run(config, d, num_classes=3, steps_per_epoch=5)
    fresh.dist = dataclasses.replace(d, device=torch.device("meta"))
    assert resume_run(fresh) == run_state.save_run(run)  # the step-3 file
    assert fresh.step == 3
    np.testing.assert_array_equal(np.random.get_state()[1], saved_numpy)
    for a, b in zip(run.net.state_dict().values(), fresh.net.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
