"""What every benchmark contestant shares: the settings, the input, the model preparation,
one timed training step (``torch.optim.RMSprop`` with the paper's decay and ε, the same for
every contestant: not the recipe's TF RMSProp) and the model a contestant is built from."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..inference import optimize_for_inference
from ..models import build_network, optimize_for_training
from ..train.optim import step_in_backward

DROP_RATE = 0.2  # the paper's keep 0.8, for ours and timm's alike


@dataclass(frozen=True)
class Settings:
    """What every contestant shares."""

    batch_size: int = 8
    image_size: int = 299
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 2
    warmup: int = 2
    repeats: int = 5
    compile: bool = False
    memory: bool = True
    compare: str = "timm"  # or "none"
    matmul_size: int = 4096
    keep_heap: bool = False  # glibc mallopt for the whole process (timing.keep_heap)
    memory_runs: int = 3  # fresh processes per contestant: glibc's peak RSS varies run to run
    runtimes: bool = True  # ONNX Runtime and OpenVINO on our exported graph, when installed
    int8: bool = True  # the runtimes' int8 (static quantization, calibrated on random images)
    compiled: bool = True  # ours compiled by inductor (fp32, bf16) and int8: minutes to build

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


@dataclass
class Contestant:
    """One configuration under test: ``label``, who made it, how to build it for memory."""

    label: str
    impl: str  # "ours", "timm", "onnxruntime" or "openvino"
    run: Callable[[], object]  # inference: returns the logits
    config: dict
    memory: bool = True  # peak memory measured in a child process (PyTorch contestants)


def make_input(s: Settings, nhwc: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(s.batch_size, 3, s.image_size, s.image_size, generator=g)
    x = x.to(s.torch_device, s.torch_dtype)
    return x.contiguous(memory_format=torch.channels_last) if nhwc else x


def prepare(model: nn.Module, s: Settings, nhwc: bool) -> nn.Module:
    """``model`` on the settings' device and dtype, NHWC if asked."""
    model = model.to(s.torch_device, s.torch_dtype)
    return model.to(memory_format=torch.channels_last) if nhwc else model


@torch.no_grad()
def calibrate_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """BatchNorm running statistics from one training-mode pass over ``x``: randomly
    initialised networks otherwise shrink their activations to zero before the pool, and
    every contestant's logits would be the classifier's bias (no error to measure)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # the cumulative average: here, this one batch's statistics
    model.train()(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return model.eval()


def maybe_compile(model: nn.Module, s: Settings) -> nn.Module:
    return torch.compile(model) if s.compile else model


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  in_backward: bool = False, amp: bool = False) -> Callable[[], None]:
    """One timed training step: cross-entropy and ``torch.optim.RMSprop`` with the paper's
    decay 0.9 and ε 1.0, the same for every contestant. It is not the paper's TF RMSProp
    (``train.RMSpropTF``: ε inside the square root, other arithmetic; ``train/optim.py``), so
    it times a step, not the recipe. With ``in_backward`` the optimiser steps inside
    backward (``train.step_in_backward``); with ``amp`` forward and loss run under bf16
    autocast, as ``train --amp bf16`` runs them."""
    opt = torch.optim.RMSprop(model.parameters(), lr=0.045, alpha=0.9, eps=1.0)
    model.train()

    def loss() -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            return F.cross_entropy(model(x), y)

    if in_backward:
        step_in_backward(opt)
        return lambda: loss().backward()

    def step() -> None:
        value = loss()
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return step


def build_contestant(name: str, impl: str, config: dict) -> nn.Module:
    """The model of one contestant (random weights: memory does not depend on them)."""
    if impl == "timm":
        import timm  # a benchmark-only dependency

        return timm.create_model(name, drop_rate=DROP_RATE)
    model = build_network(name, drop_rate=DROP_RATE)
    if config.get("optimized"):
        optimize_for_training(model, checkpointing=bool(config.get("checkpointing")))
    if not config.get("fused"):
        return model
    return optimize_for_inference(model, dtype=getattr(torch, config.get("dtype", "float32")))


def compiled_contestants(model: nn.Module, s: Settings, x: torch.Tensor) -> list[Contestant]:
    """Ours compiled by inductor (freezing, channels-last) at float32 and bfloat16, and int8
    (PT2E static quantization, calibrated on 32 seeded random images: its error says nothing
    about accuracy, which the tests measure on real images); where torchao is installed.
    CPU float32 settings only; no memory runs (the child processes build eager models)."""
    if not s.compiled or s.torch_device.type != "cpu" or s.dtype != "float32":
        return []
    config = {"mode": "infer", "fused": True, "channels_last": True, "inductor": True}
    out = []
    for dtype, label in (("float32", "ours-compiled"), ("bfloat16", "ours-compiled-bf16")):
        net = optimize_for_inference(model, dtype=dtype, compile=True, batch_size=s.batch_size)
        out.append(Contestant(label, "ours", functools.partial(net, x),
                              {**config, "dtype": dtype}, memory=False))
    if importlib.util.find_spec("torchao") is not None:
        calibration = torch.randn(32, *x.shape[1:], generator=torch.Generator().manual_seed(2))
        net = optimize_for_inference(model, dtype="int8", calibration=calibration.split(8),
                                     batch_size=s.batch_size)
        out.append(Contestant("ours-int8", "ours", functools.partial(net, x),
                              {**config, "dtype": "int8"}, memory=False))
    return out

