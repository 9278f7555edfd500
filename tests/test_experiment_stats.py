"""Curve statistics used by the experiments' reports."""

from __future__ import annotations

import math

import numpy as np

from inception_v4.experiments.stats import mean_and_spread, ratio_with_interval, steps_to_target


def test_steps_to_target_takes_first_evaluation_at_or_below() -> None:
    steps, errs = [100, 200, 300, 400], [0.9, 0.6, 0.5, 0.4]
    assert steps_to_target(steps, errs, 0.6) == 200
    assert steps_to_target(steps, errs, 0.45) == 400
    assert steps_to_target(steps, errs, 0.1) == math.inf


def test_mean_and_spread_over_seeds() -> None:
    mean, spread = mean_and_spread([[1.0, 2.0, 3.0], [3.0, 4.0]])
    np.testing.assert_allclose(mean, [2.0, 3.0])
    np.testing.assert_allclose(spread, [math.sqrt(2.0), math.sqrt(2.0)])


def test_ratio_interval_brackets_the_point_and_collapses_when_constant() -> None:
    point, lo, hi = ratio_with_interval([200.0, 220.0, 180.0], [400.0, 400.0, 400.0])
    assert math.isclose(point, 0.5)
    assert lo <= point <= hi and 0.45 <= lo and hi <= 0.55
    assert ratio_with_interval([3.0, 3.0], [6.0, 6.0]) == (0.5, 0.5, 0.5)
    assert ratio_with_interval([math.inf, 3.0], [6.0, 6.0])[0] == math.inf
