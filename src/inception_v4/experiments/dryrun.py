"""``--dry-run``: the runs, each model's cost, and an estimate of the time they take."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..data import open_dataset
from ..models import network_from_args
from ..models.complexity import count_macs, count_params
from .plan import Plan


def measured_rate(model: torch.nn.Module, image_size: int, batch: int, device: str,
                  steps: int = 2) -> float:
    """Training images/s of ``model`` here: forward, backward and an SGD step on random
    images, best of ``steps`` after one warm-up step. Measured rather than derived from the
    matmul peak, because small networks reach a far smaller share of it than large ones."""
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, image_size, image_size, device=device)
    y = torch.zeros(batch, dtype=torch.long, device=device)
    best = float("inf")
    for i in range(steps + 1):
        tic = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            best = min(best, time.perf_counter() - tic)
    return batch / best


def describe(plan: Plan, out: Path, budget_minutes: float) -> str:
    """A readable plan: one line per arm with its cost, then runs and estimated hours.

    The time comes from a few training steps of each distinct model timed here (at a batch
    of at most 16 on a GPU, 4 on a CPU), so it covers training only, not the evaluations."""
    base = plan.base
    train = open_dataset(base.data, "train", seed=base.seed)
    n_train = len(train)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch = min(base.batch_size, 16 if device == "cuda" else 4)
    lines = [f"{plan.kind} experiment: {len(plan.arms)} arms × {len(plan.seeds)} seeds = "
             f"{len(plan.arms) * len(plan.seeds)} runs into {out}",
             f"data {base.data}: {n_train} training images, {base.epochs:g} epochs per run, "
             f"image {base.image_size}, batch {base.batch_size}",
             f"training speed timed on this machine ({device}) at batch {batch}", ""]
    total, rates = 0.0, {}
    for arm in plan.arms:
        cfg = plan.config(arm, plan.seeds[0], out)
        args = cfg.model_args(train.num_classes)
        with torch.device("meta"):  # the counts need shapes only
            model = network_from_args(cfg.model, args)
        macs = count_macs(model, cfg.image_size)
        # Arms with the same network cost the same (residual=False keeps every operation).
        key = (cfg.model, cfg.width, cfg.depth, cfg.image_size)
        if key not in rates:
            rates[key] = measured_rate(network_from_args(cfg.model, args), cfg.image_size,
                                       batch, device)
        seconds = n_train * cfg.epochs / rates[key] * len(plan.seeds)
        total += seconds
        lines.append(f"  {arm.label:38s} {count_params(model) / 1e6:6.2f} M params "
                     f"{macs / 1e9:6.3f} GMACs/image {rates[key]:7.1f} img/s "
                     f"~{seconds / 3600:6.2f} h for all seeds")
    limit = f"; the budget caps it at {budget_minutes / 60:.2f} h" if budget_minutes else ""
    lines += ["", f"estimated training time: {total / 3600:.2f} h{limit} (evaluations extra)"]
    if base.image_size >= 299:
        lines.append("full scale: launch the same command under torchrun, e.g. "
                     "`torchrun --nproc-per-node 8 -m inception_v4 experiment ...`")
    return "\n".join(lines)
