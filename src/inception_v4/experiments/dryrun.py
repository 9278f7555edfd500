"""``--dry-run``: the runs, each model's cost, and an estimate of the time they take."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..data import open_dataset
from ..models import create_model
from ..models.complexity import count_macs, count_params
from .plan import Plan

UTILISATION = 0.3  # training reaches roughly this fraction of dense matmul speed (assumed)


def matmul_gflops(device: str = "cpu", n: int = 1024, repeats: int = 5) -> float:
    """Dense fp32 matrix-multiply rate of this machine, in GFLOP/s (best of ``repeats``)."""
    a = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        torch.mm(a, a)
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - tic)
    return 2 * n**3 / best / 1e9


def describe(plan: Plan, out: Path, budget_minutes: float) -> str:
    """A readable plan: one line per arm with its cost, then runs and estimated hours."""
    base = plan.base
    train = open_dataset(base.data, "train", seed=base.seed)
    n_train = len(train)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rate = matmul_gflops(device) * UTILISATION
    lines = [f"{plan.kind} experiment: {len(plan.arms)} arms × {len(plan.seeds)} seeds = "
             f"{len(plan.arms) * len(plan.seeds)} runs into {out}",
             f"data {base.data}: {n_train} training images, {base.epochs:g} epochs per run, "
             f"image {base.image_size}, batch {base.batch_size}",
             f"this machine ({device}): {rate / UTILISATION:.0f} GFLOP/s dense fp32 matmul; "
             f"estimate assumes training at {UTILISATION:.0%} of it", ""]
    total = 0.0
    for arm in plan.arms:
        cfg = plan.config(arm, plan.seeds[0], out)
        model = create_model(cfg.model, num_classes=train.num_classes, width=cfg.width,
                             depth=cfg.depth, residual_scale=cfg.residual_scale,
                             residual=cfg.residual)
        macs = count_macs(model, cfg.image_size)
        flops = 3 * 2 * macs * n_train * cfg.epochs  # forward + backward ≈ 3 forwards
        seconds = flops / (rate * 1e9) * len(plan.seeds)
        total += seconds
        lines.append(f"  {arm.label:45s} {count_params(model) / 1e6:7.2f} M params "
                     f"{macs / 1e9:7.3f} GMACs/image  ~{seconds / 3600:6.2f} h for all seeds")
    limit = f"; the budget caps it at {budget_minutes / 60:.2f} h" if budget_minutes else ""
    lines += ["", f"estimated training time: {total / 3600:.2f} h{limit}"]
    if base.image_size >= 299:
        lines.append("full scale: launch the same command under torchrun, e.g. "
                     "`torchrun --nproc-per-node 8 -m inception_v4 experiment ...`")
    return "\n".join(lines)
