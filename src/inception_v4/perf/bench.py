"""Side-by-side speed of our networks and timm's: inference and training, one process.

Each contestant is a zero-argument callable (one forward pass, or one training step: forward,
backward, optimizer step); :func:`inception_v4.perf.timing.interleaved` runs them in turn
after warm-up. Achieved GFLOP/s counts 2 × the multiply-adds of
:func:`inception_v4.models.complexity.count_macs` per image, ×3 for a training step
(forward, input gradient, weight gradient).
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models import create_model
from ..models.complexity import count_macs
from ..train.optim import step_in_backward
from .fuse import optimize_for_inference
from .memory import measure_memory
from .timing import interleaved
from .training import optimize_for_training
from .twins import channels_last, timm_twin

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
    impl: str  # "ours" or "timm"
    run: Callable[[], object]
    config: dict


def _input(s: Settings, nhwc: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(s.batch_size, 3, s.image_size, s.image_size, generator=g)
    x = x.to(s.torch_device, s.torch_dtype)
    return x.contiguous(memory_format=torch.channels_last) if nhwc else x


def prepare(model: nn.Module, s: Settings, nhwc: bool) -> nn.Module:
    """``model`` on the settings' device and dtype, NHWC if asked."""
    model = model.to(s.torch_device, s.torch_dtype)
    return model.to(memory_format=torch.channels_last) if nhwc else model


def _maybe_compile(model: nn.Module, s: Settings) -> nn.Module:
    return torch.compile(model) if s.compile else model


def infer_contestants(name: str, s: Settings) -> tuple[list[Contestant], int]:
    """Ours (fused, NHWC) against timm's plain and NHWC models; and the MACs per image."""
    ours = create_model(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = count_macs(ours, s.image_size)
    fused = _maybe_compile(prepare(optimize_for_inference(ours), s, True), s)
    x_cl, x = _input(s, True), _input(s, False)
    out = [Contestant("ours", "ours", lambda: fused(x_cl),
                      {"mode": "infer", "fused": True, "channels_last": True})]
    if theirs is not None:
        plain = _maybe_compile(prepare(theirs.eval(), s, False), s)
        nhwc = _maybe_compile(prepare(channels_last(theirs).eval(), s, True), s)
        out += [Contestant("timm", "timm", lambda: plain(x), {"mode": "infer"}),
                Contestant("timm-cl", "timm", lambda: nhwc(x_cl),
                           {"mode": "infer", "channels_last": True})]
    return out, macs


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  in_backward: bool = False) -> Callable[[], None]:
    """One step of the paper's recipe: cross-entropy, RMSProp (decay 0.9, ε 1.0); with
    ``in_backward`` the optimiser steps inside backward (``train.step_in_backward``)."""
    opt = torch.optim.RMSprop(model.parameters(), lr=0.045, alpha=0.9, eps=1.0)
    model.train()
    if in_backward:
        step_in_backward(opt)
        return lambda: F.cross_entropy(model(x), y).backward()

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def train_contestants(name: str, s: Settings) -> tuple[list[Contestant], int]:
    """Ours (optimize_for_training; with activation checkpointing; with checkpointing and the
    optimiser step in backward) against timm's plain and NHWC models."""
    ours = create_model(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = 3 * count_macs(ours, s.image_size)
    x_cl, x = _input(s, True), _input(s, False)
    y = torch.randint(0, ours.num_classes, (s.batch_size,), device=s.torch_device)
    ckpt = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    lean = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    fast = {"mode": "train", "channels_last": True, "optimized": True}
    out = [
        Contestant("ours", "ours", training_step(
            _maybe_compile(prepare(optimize_for_training(ours), s, True), s), x_cl, y), fast),
        Contestant("ours-ckpt", "ours", training_step(prepare(ckpt, s, True), x_cl, y),
                   {**fast, "checkpointing": True}),
        Contestant("ours-lean", "ours", training_step(prepare(lean, s, True), x_cl, y, True),
                   {**fast, "checkpointing": True, "step_in_backward": True}),
    ]
    if theirs is not None:
        out += [
            Contestant("timm", "timm", training_step(
                _maybe_compile(prepare(theirs, s, False), s), x, y), {"mode": "train"}),
            Contestant("timm-cl", "timm", training_step(
                _maybe_compile(prepare(channels_last(theirs), s, True), s), x_cl, y),
                {"mode": "train", "channels_last": True}),
        ]
    return out, macs


def run_mode(name: str, mode: str, s: Settings) -> list[dict]:
    """Rows (one per contestant) for ``mode`` "infer" or "train" of network ``name``."""
    build = infer_contestants if mode == "infer" else train_contestants
    contestants, macs = build(name, s)
    fns = {c.label: c.run for c in contestants}
    with torch.inference_mode(mode == "infer"):
        times = interleaved(fns, s.torch_device, s.warmup, s.repeats)
    rows = []
    for c in contestants:
        t = statistics.median(times[c.label])
        gflops = 2 * macs * s.batch_size / t / 1e9
        row = {"model": name, "mode": mode, "impl": c.label, "images_per_s": s.batch_size / t,
               "latency_ms": 1e3 * t, "gflops": gflops,
               "times_s": times[c.label], "config": {**c.config, "compile": s.compile}}
        if s.memory:
            runs = [measure_memory(name, c.impl, row["config"], s) for _ in range(s.memory_runs)]
            row["memory_mb"], row["memory_runs_mb"] = statistics.median(runs), runs
        rows.append(row)
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """Ours over timm's better configuration, per network and mode (speed and memory)."""
    out = []
    for (model, mode) in dict.fromkeys((r["model"], r["mode"]) for r in rows):
        group = [r for r in rows if (r["model"], r["mode"]) == (model, mode)]
        timm = [r for r in group if r["impl"].startswith("timm")]
        if not timm:
            continue
        best = max(timm, key=lambda r: r["images_per_s"])
        for r in group:
            if r["impl"].startswith("timm"):
                continue
            item = {"model": model, "mode": mode, "ours": r["impl"], "timm": best["impl"],
                    "speed_ratio": r["images_per_s"] / best["images_per_s"]}
            mem = [t.get("memory_mb") for t in timm if t.get("memory_mb")]
            if r.get("memory_mb") and mem:
                item["memory_ratio"] = r["memory_mb"] / min(mem)
            out.append(item)
    return out
