"""The CUDA paths' defects (issue #24), each shown on the CPU where the behaviour allows:
compile with activation recompute, resume on another device, device selection under
torchrun, the inference head's device, the bench's device."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from inception_v4 import checkpoint, create_model, optimize_for_inference
from inception_v4.bench import memory
from inception_v4.bench.contestants import Settings
from inception_v4.bench.timing import machine
from inception_v4.models import network_from_args
from inception_v4.models.recompute import run_blocks
from inception_v4.train import TrainConfig
from inception_v4.train.build import configure_cuda
from inception_v4.train.distributed import Dist, pick_device, setup
from inception_v4.train.run import build_run, resume


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
    segments = functools.partial(run_blocks, list(recompute), recompute=True, per_segment=1)
    compiled = torch.compile(segments, backend="aot_eager")
    got = _grads_and_stats(recompute, compiled, x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    moved = [b for b, b0 in zip(plain.buffers(), net.stages[1].buffers(), strict=True)
             if b.is_floating_point() and not torch.equal(b, b0)]
    assert moved  # the running statistics did move (once: equal to the plain blocks')


def _network(config: TrainConfig) -> torch.nn.Module:
    return network_from_args(config.model, config.model_args(3))


def test_resume_on_another_device_keeps_the_rng_state_on_the_cpu(tmp_path: Path) -> None:
    """``--resume`` on a GPU loaded the checkpoint with ``map_location=device``: the NumPy RNG
    state became a device tensor with no ``.numpy()``. The run state is now read on the CPU
    whatever the run's device (here ``meta`` stands for a GPU: a map there fails as a CUDA
    one did) and ``load_state_dict`` places each tensor."""
    config = TrainConfig(model="inception_v4", width=0.25, depth=0.2, image_size=75,
                         out=str(tmp_path), device="cpu")
    d = Dist(0, 1, 0, torch.device("cpu"), False)
    run = build_run(config, d, _network(config), steps_per_epoch=5)
    run.step, run.position = 3, 3
    np.random.seed(7)
    saved_numpy = np.random.get_state()[1].copy()
    checkpoint.save_run(run)
    np.random.seed(8)
    fresh = build_run(config, d, _network(config), steps_per_epoch=5)
    fresh.dist = dataclasses.replace(d, device=torch.device("meta"))
    found = checkpoint.find_resume("auto", config.out)
    assert resume(fresh, found) == checkpoint.save_run(run)  # the step-3 file
    assert fresh.step == 3
    np.testing.assert_array_equal(np.random.get_state()[1], saved_numpy)
    for a, b in zip(run.net.state_dict().values(), fresh.net.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_bf16_inference_graph_stays_on_the_model_device() -> None:
    """``evaluate --device cuda --dtype bfloat16`` moved the model to the GPU, then
    ``optimize_for_inference`` built the float32-output classifier on the CPU. ``meta`` stands
    for the GPU: every tensor of the fused graph must be where the model was."""
    model = create_model("inception_v4", num_classes=3, width=0.25, depth=0.2).to("meta")
    fused = optimize_for_inference(model, dtype=torch.bfloat16)
    places = {t.device.type for t in [*fused.parameters(), *fused.buffers()]}
    assert places == {"meta"}
    assert fused.head.fc.weight.dtype == torch.bfloat16


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with two GPUs, as far as device selection can tell."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.usefixtures("two_gpus")
def test_device_follows_local_rank_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pick_device("cuda", local_rank=1, world=2) == torch.device("cuda", 1)
    assert pick_device("auto", local_rank=1, world=2) == torch.device("cuda", 1)
    assert pick_device("cuda:1", local_rank=1, world=2) == torch.device("cuda", 1)
    assert pick_device("cuda:1") == torch.device("cuda", 1)  # one process: any GPU present
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert setup("cuda").device == torch.device("cuda", 1)


@pytest.mark.usefixtures("two_gpus")
@pytest.mark.parametrize(("name", "local_rank", "world", "says"), [
    ("cuda:0", 1, 2, "each process uses cuda:LOCAL_RANK (this one cuda:1)"),
    ("cuda:2", 0, 1, "this machine has 2 GPU(s) (cuda:0 to cuda:1)"),
    ("cuda:5", 1, 2, "this machine has 2 GPU(s)"),
    ("gpu", 0, 1, "unknown device 'gpu'"),
])
def test_device_that_cannot_work_is_a_one_line_error(name: str, local_rank: int, world: int,
                                                     says: str) -> None:
    """``--device cuda:0`` under torchrun put every rank on GPU 0 (NCCL failed later); a
    ``cuda:N`` beyond the GPUs present failed later with a raw traceback."""
    with pytest.raises(ValueError, match=re.escape(says)) as err:
        pick_device(name, local_rank, world)
    assert "\n" not in str(err.value)


def test_bench_memory_reads_the_asked_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench --device cuda:1`` read GPU 0's (the current device's) peak-memory counters;
    every counter call must name the device asked for."""
    seen = []

    def counter(value: int = 0) -> Callable:
        def read(device: object = None) -> int:
            seen.append(device)
            return value
        return read
    for name in ("synchronize", "reset_peak_memory_stats"):
        monkeypatch.setattr(torch.cuda, name, counter())
    monkeypatch.setattr(torch.cuda, "memory_allocated", counter(100))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", counter(300))
    monkeypatch.setattr(memory, "build_contestant", lambda *a: torch.nn.Linear(4, 2))
    monkeypatch.setattr(memory, "prepare", lambda model, s, nhwc: model)
    monkeypatch.setattr(memory, "make_input", lambda s, nhwc: torch.randn(2, 4))
    settings = dataclasses.asdict(Settings(device="cuda:1", batch_size=2))
    assert memory._passes("ours", "ours", {"mode": "infer"}, settings) == 200
    assert seen and all(torch.device(d) == torch.device("cuda", 1) for d in seen), seen
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: f"GPU {torch.device(d)}")
    assert machine("cuda:1")["gpu"] == "GPU cuda:1"
    assert "gpu" not in machine("cpu")


def test_cuda_runs_get_deterministic_kernels_or_cudnn_benchmark(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing set cuDNN's mode: ``deterministic`` (the default, exact resume) now asks torch
    for deterministic kernels; ``deterministic=false`` turns on ``cudnn.benchmark``. Whether
    a resumed GPU run is then bit-exact is a step of ``benchmarks/gpu_smoke.sh``."""
    asked = []
    monkeypatch.setattr(torch, "use_deterministic_algorithms",
                        lambda mode, warn_only=False: asked.append((mode, warn_only)))
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # so that the undo removes it
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    configure_cuda(torch.device("cpu"), True)  # CPU kernels are deterministic already
    assert not asked and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    configure_cuda(torch.device("cuda", 0), False)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    assert not asked
    configure_cuda(torch.device("cuda", 0), True)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert asked == [(True, True)] and os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
