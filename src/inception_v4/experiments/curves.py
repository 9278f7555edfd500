"""Read the runs' logs back: evaluation curves with the wall time of each evaluated step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..train.records import read_csv

DEAD_THRESHOLD = 0.99  # "died": at least this fraction of exact zeros before the pool


@dataclass
class Curve:
    """One run's evaluations: steps, wall seconds, errors and the dead fraction."""

    arm: str
    seed: int
    steps: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    top1: list[float] = field(default_factory=list)
    top5: list[float] = field(default_factory=list)
    dead: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    nonfinite_step: int | None = None

    def died_at(self) -> int | None:
        """The run died (the stated criterion): the loss became non-finite, or the last
        activation before the average pool was ≥ 99 % exact zeros at an evaluation and stayed
        so to the end. Returns the step it happened, None if it did not."""
        if self.nonfinite_step is not None:
            return self.nonfinite_step
        for i, step in enumerate(self.steps):
            if all(d >= DEAD_THRESHOLD for d in self.dead[i:]):
                return step
        return None


def load_curve(summary: dict) -> Curve:
    """The curve of the run ``summary`` (as written by the runner) describes."""
    out = Path(summary["out"])
    curve = Curve(summary["arm"], int(summary["seed"]))
    if summary.get("nonfinite"):
        curve.nonfinite_step = int(summary.get("nonfinite_step", -1))
    evals = read_csv(out / "eval.csv") if (out / "eval.csv").is_file() else []
    metrics = read_csv(out / "metrics.csv") if (out / "metrics.csv").is_file() else []
    m_steps = [float(r["step"]) for r in metrics]
    m_secs = [float(r["seconds"]) for r in metrics]
    curve.losses = [float(r["loss"]) for r in metrics]
    for row in evals:
        step = int(float(row["step"]))
        curve.steps.append(step)
        curve.seconds.append(_seconds_at(step, m_steps, m_secs))
        # Raw weights: early in a short run a slow average lags far behind the weights, so
        # the report compares raw errors (each run's eval.csv keeps the averaged ones too).
        curve.top1.append(float(row["top1_err"]))
        curve.top5.append(float(row["top5_err"]))
        curve.dead.append(float(row["dead_fraction"]))
    return curve


def _seconds_at(step: int, steps: list[float], seconds: list[float]) -> float:
    if not steps:
        return math.nan
    return float(np.interp(step, [0.0, *steps], [0.0, *seconds]))
