"""Summaries of training curves over seeds: steps to an error target, ratios with intervals."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np


def steps_to_target(steps: Sequence[int], errors: Sequence[float], target: float) -> float:
    """The first evaluated step whose error is at or below ``target``; ``inf`` if none is."""
    for step, err in zip(steps, errors, strict=True):
        if err <= target:
            return float(step)
    return math.inf


def mean_and_spread(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-point mean and sample standard deviation over seeds (curves cut to equal length)."""
    n = min(len(c) for c in curves)
    arr = np.array([list(c)[:n] for c in curves], dtype=float)
    spread = arr.std(axis=0, ddof=1) if len(arr) > 1 else np.zeros(n)
    return arr.mean(axis=0), spread


def ratio_with_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95,
                        resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Ratio of means ``mean(a) / mean(b)`` with a percentile bootstrap interval over seeds.

    Seeds are paired (same data order for both arms), so each resample draws seed indices
    once and uses them for both. Infinite entries (target never reached) give ``inf``.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"need paired, non-empty samples; got {len(a)} and {len(b)}")
    point = _ratio(a, b, range(len(a)))
    rng = random.Random(seed)
    idx = range(len(a))
    draws = sorted(_ratio(a, b, [rng.choice(idx) for _ in idx]) for _ in range(resamples))
    lo = draws[int((1 - level) / 2 * (resamples - 1))]
    hi = draws[int((1 + level) / 2 * (resamples - 1))]
    return point, lo, hi


def _ratio(a: Sequence[float], b: Sequence[float], idx: Sequence[int]) -> float:
    num = sum(a[i] for i in idx) / len(idx)
    den = sum(b[i] for i in idx) / len(idx)
    if math.isinf(num) or math.isinf(den):
        return math.inf if not math.isinf(den) else (math.nan if math.isinf(num) else 0.0)
    return num / den if den else math.inf
