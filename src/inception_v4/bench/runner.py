"""Side-by-side speed of our networks and timm's: inference and training, one process.

Each contestant is a zero-argument callable (one forward pass, or one training step: forward,
backward, optimizer step); :func:`inception_v4.bench.timing.interleaved` runs them in turn
after warm-up. Achieved GFLOP/s counts 2 × the multiply-adds of
:func:`inception_v4.models.complexity.count_macs` per image, ×3 for a training step
(forward, input gradient, weight gradient).
"""

from __future__ import annotations

import copy
import statistics

import torch

from ..inference import optimize_for_inference
from ..models import build_network, optimize_for_training
from ..models.complexity import count_macs
from .contestants import (
    DROP_RATE,
    Contestant,
    Settings,
    make_input,
    maybe_compile,
    prepare,
    training_step,
)
from .memory import measure_memory
from .timing import interleaved
from .twins import channels_last, timm_twin


def infer_contestants(name: str, s: Settings) -> tuple[list[Contestant], int]:
    """Ours (fused, NHWC) against timm's plain and NHWC models; and the MACs per image."""
    ours = build_network(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = count_macs(ours, s.image_size)
    fused = maybe_compile(prepare(optimize_for_inference(ours), s, True), s)
    x_cl, x = make_input(s, True), make_input(s, False)
    out = [Contestant("ours", "ours", lambda: fused(x_cl),
                      {"mode": "infer", "fused": True, "channels_last": True})]
    if theirs is not None:
        plain = maybe_compile(prepare(theirs.eval(), s, False), s)
        nhwc = maybe_compile(prepare(channels_last(theirs).eval(), s, True), s)
        out += [Contestant("timm", "timm", lambda: plain(x), {"mode": "infer"}),
                Contestant("timm-cl", "timm", lambda: nhwc(x_cl),
                           {"mode": "infer", "channels_last": True})]
    return out, macs


def train_contestants(name: str, s: Settings) -> tuple[list[Contestant], int]:
    """Ours (optimize_for_training; with activation checkpointing; with checkpointing and the
    optimiser step in backward) against timm's plain and NHWC models."""
    ours = build_network(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = 3 * count_macs(ours, s.image_size)
    x_cl, x = make_input(s, True), make_input(s, False)
    y = torch.randint(0, ours.num_classes, (s.batch_size,), device=s.torch_device)
    ckpt = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    lean = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    fast = {"mode": "train", "channels_last": True, "optimized": True}
    out = [
        Contestant("ours", "ours", training_step(
            maybe_compile(prepare(optimize_for_training(ours), s, True), s), x_cl, y), fast),
        Contestant("ours-ckpt", "ours", training_step(prepare(ckpt, s, True), x_cl, y),
                   {**fast, "checkpointing": True}),
        Contestant("ours-lean", "ours", training_step(prepare(lean, s, True), x_cl, y, True),
                   {**fast, "checkpointing": True, "step_in_backward": True}),
    ]
    if theirs is not None:
        out += [
            Contestant("timm", "timm", training_step(
                maybe_compile(prepare(theirs, s, False), s), x, y), {"mode": "train"}),
            Contestant("timm-cl", "timm", training_step(
                maybe_compile(prepare(channels_last(theirs), s, True), s), x_cl, y),
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
