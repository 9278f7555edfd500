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
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..inference import HAS_BF16, optimize_for_inference
from ..models import build_network, optimize_for_training
from ..models.complexity import count_macs
from ..tolerances import rel_tol
from .contestants import (
    DROP_RATE,
    Contestant,
    Settings,
    calibrate_bn,
    compiled_contestants,
    make_input,
    maybe_compile,
    prepare,
    training_step,
)
from .memory import measure_memory
from .runtime_contestants import runtime_contestants
from .timing import interleaved
from .twins import channels_last, timm_twin


def infer_contestants(name: str, s: Settings,
                      folder: Path) -> tuple[list[Contestant], int, torch.Tensor]:
    """Ours (fused, NHWC; and in bf16 where the CPU has bf16 kernels) against timm's plain
    and NHWC models and the runtimes on our exported graph; the MACs per image; and the
    eager float32 logits every contestant's are compared with."""
    ours = build_network(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = count_macs(ours, s.image_size)
    calibration = torch.randn(4, 3, s.image_size, s.image_size,
                              generator=torch.Generator().manual_seed(1))  # models on the CPU here
    for model in (ours, theirs) if theirs is not None else (ours,):
        calibrate_bn(model, calibration)  # the same weights, so the same statistics
    with torch.no_grad():
        reference = ours(make_input(s, False).float().cpu()).float()
    fused = maybe_compile(prepare(optimize_for_inference(ours), s, True), s)
    x_cl, x = make_input(s, True), make_input(s, False)
    out = [Contestant("ours", "ours", lambda: fused(x_cl),
                      {"mode": "infer", "fused": True, "channels_last": True})]
    if s.dtype == "float32" and s.torch_device.type == "cpu" and HAS_BF16:
        bf16 = maybe_compile(optimize_for_inference(ours, dtype=torch.bfloat16), s)
        out.append(Contestant("ours-bf16", "ours", lambda: bf16(x_cl), {
            "mode": "infer", "fused": True, "channels_last": True, "dtype": "bfloat16"}))
    out += compiled_contestants(ours, s, x_cl)
    if theirs is not None:
        plain = maybe_compile(prepare(theirs.eval(), s, False), s)
        nhwc = maybe_compile(prepare(channels_last(theirs).eval(), s, True), s)
        out += [Contestant("timm", "timm", lambda: plain(x), {"mode": "infer"}),
                Contestant("timm-cl", "timm", lambda: nhwc(x_cl),
                           {"mode": "infer", "channels_last": True})]
    if s.runtimes and s.dtype == "float32":
        out += runtime_contestants(ours, s, x, folder)
    return out, macs, reference


def max_rel_errors(contestants: list[Contestant], reference: torch.Tensor) -> dict[str, float]:
    """Each inference contestant's largest |logit − eager float32 logit| over the largest
    |eager logit|."""
    scale = float(reference.abs().max())
    errors = {}
    for c in contestants:
        got = torch.as_tensor(c.run()).float().cpu()
        errors[c.label] = float((got - reference).abs().max()) / max(scale, 1e-12)
    return errors


def train_contestants(name: str, s: Settings) -> tuple[list[Contestant], int]:
    """Ours (optimize_for_training; with activation checkpointing; with checkpointing and the
    optimiser step in backward) against timm's plain and NHWC models; at float32 also ours
    and timm NHWC under bf16 autocast (``train --amp bf16``)."""
    ours = build_network(name, drop_rate=DROP_RATE)
    theirs = timm_twin(name, ours, DROP_RATE, s.image_size) if s.compare == "timm" else None
    macs = 3 * count_macs(ours, s.image_size)
    x_cl, x = make_input(s, True), make_input(s, False)
    y = torch.randint(0, ours.num_classes, (s.batch_size,), device=s.torch_device)
    ckpt = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    lean = optimize_for_training(copy.deepcopy(ours), checkpointing=True)
    fast = {"mode": "train", "channels_last": True, "optimized": True}
    amp = s.dtype == "float32"  # autocast beside float32; a bf16 model is bf16 throughout
    bf16 = {"amp": "bf16", "dtype": "bfloat16"}

    def fast_step(model: nn.Module, autocast: bool = False) -> Callable[[], None]:
        model = maybe_compile(prepare(optimize_for_training(model), s, True), s)
        return training_step(model, x_cl, y, amp=autocast)

    out = [
        Contestant("ours", "ours", fast_step(copy.deepcopy(ours)), fast),
        Contestant("ours-ckpt", "ours", training_step(prepare(ckpt, s, True), x_cl, y),
                   {**fast, "checkpointing": True}),
        Contestant("ours-lean", "ours", training_step(prepare(lean, s, True), x_cl, y, True),
                   {**fast, "checkpointing": True, "step_in_backward": True}),
    ]
    out += [Contestant("ours-amp", "ours", fast_step(ours, True), {**fast, **bf16})] if amp else []
    if theirs is not None:
        nhwc = {"mode": "train", "channels_last": True}
        out += [
            Contestant("timm", "timm", training_step(
                maybe_compile(prepare(theirs, s, False), s), x, y), {"mode": "train"}),
            Contestant("timm-cl", "timm", training_step(
                maybe_compile(prepare(channels_last(theirs), s, True), s), x_cl, y), nhwc),
        ]
        out += [Contestant("timm-cl-amp", "timm", training_step(maybe_compile(
            prepare(channels_last(theirs), s, True), s), x_cl, y, amp=True),
            {**nhwc, **bf16})] if amp else []
    return out, macs


def run_mode(name: str, mode: str, s: Settings) -> list[dict]:
    """Rows (one per contestant) for ``mode`` "infer" or "train" of network ``name``."""
    with tempfile.TemporaryDirectory() as folder:
        if mode == "infer":
            contestants, macs, reference = infer_contestants(name, s, Path(folder))
        else:
            (contestants, macs), reference = train_contestants(name, s), None
        fns = {c.label: c.run for c in contestants}
        with torch.inference_mode(mode == "infer"):
            times = interleaved(fns, s.torch_device, s.warmup, s.repeats)
            errors = {} if reference is None else max_rel_errors(contestants, reference)
    rows = []
    for c in contestants:
        t = statistics.median(times[c.label])
        gflops = 2 * macs * s.batch_size / t / 1e9
        config = {"dtype": s.dtype, **c.config, "compile": s.compile}
        row = {"model": name, "mode": mode, "impl": c.label, "images_per_s": s.batch_size / t,
               "latency_ms": 1e3 * t, "gflops": gflops, "times_s": times[c.label],
               "config": config, **judged(errors.get(c.label), config["dtype"])}
        if s.memory and c.memory:
            runs = [measure_memory(name, c.impl, row["config"], s) for _ in range(s.memory_runs)]
            row["memory_mb"], row["memory_runs_mb"] = statistics.median(runs), runs
        rows.append(row)
    return rows


def judged(error: float | None, dtype: str) -> dict:
    """The row's max relative error, its dtype's bound (``inception_v4.tolerances``) and
    whether the error is within it (None: not an inference row)."""
    if error is None:
        return {"max_rel_err": None}
    return {"max_rel_err": error, "rel_tol": rel_tol(dtype), "within_tol": error <= rel_tol(dtype)}


def row_dtype(row: dict) -> str:
    """What a row computes in: float32, bfloat16 (a bf16 graph or bf16 autocast) or int8."""
    return row["config"].get("dtype", "float32")


def peer_family(row: dict) -> str | None:
    """Which peers a row belongs to: ``timm-DTYPE`` or ``runtime-DTYPE``; None for ours."""
    if row["impl"].startswith("timm"):
        return f"timm-{row_dtype(row)}"
    return f"runtime-{row_dtype(row)}" if row["config"].get("runtime") else None


def ratios(rows: list[dict]) -> list[dict]:
    """Each of our contestants over the fastest of each peer family of its dtype (timm; the
    runtimes), per network and mode: speed, and memory against the family's lowest."""
    out = []
    for (model, mode) in dict.fromkeys((r["model"], r["mode"]) for r in rows):
        group = [r for r in rows if (r["model"], r["mode"]) == (model, mode)]
        families = {peer_family(r) for r in group} - {None}
        for family in sorted(families):
            peers = [r for r in group if peer_family(r) == family]
            best = max(peers, key=lambda r: r["images_per_s"])
            mem = [t["memory_mb"] for t in peers if t.get("memory_mb")]
            for r in group:
                if peer_family(r) is not None or not family.endswith(f"-{row_dtype(r)}"):
                    continue
                item = {"model": model, "mode": mode, "ours": r["impl"], "peer": best["impl"],
                        "family": family, "speed_ratio": r["images_per_s"] / best["images_per_s"]}
                if r.get("memory_mb") and mem:
                    item["memory_ratio"] = r["memory_mb"] / min(mem)
                out.append(item)
    return out
