"""Long work shows progress: the training ETA counts the evaluations still to come; bars
appear on a terminal only (and never under --quiet)."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest

from inception_v4.evaluate.progress import progress
from inception_v4.train.records import eta_seconds, evaluations_left


@pytest.mark.parametrize(("step", "total", "per_epoch", "every", "left"), [
    (1, 30, 10, 0, 3),     # epoch ends 10, 20, 30 (the last is also the end)
    (10, 30, 10, 0, 3),    # step 10 is trained; its evaluation comes next
    (11, 30, 10, 0, 2),
    (1, 25, 10, 0, 3),     # 10, 20 and the end at 25
    (1, 30, 10, 4, 9),     # + 4, 8, 12, 16, 24, 28 (20 is an epoch end)
    (30, 30, 10, 0, 1)])   # the final evaluation
def test_evaluations_left_counts_epoch_ends_the_end_and_eval_every(
        step: int, total: int, per_epoch: int, every: int, left: int) -> None:
    assert evaluations_left(step, total, per_epoch, every) == left


def test_eta_includes_the_evaluations_still_to_come() -> None:
    """The issue's case: 2:02 shown, 2:56 taken, because evaluations were left out. 100
    steps left at 1 s each and 2 evaluations of 27 s: 154 s; before the first evaluation,
    its 20 batches at a third of a step each, twice with averaged weights."""
    config = SimpleNamespace(eval_every_steps=0)
    run = SimpleNamespace(seconds=50.0, step=50, steps_per_epoch=75, config=config, ema=object())
    assert eta_seconds(run, 150, 27.0, 20) == pytest.approx(100 + 2 * 27)
    assert eta_seconds(run, 150, 0.0, 20) == pytest.approx(100 + 2 * 20 / 3 * 2)


def test_progress_bars_only_on_a_terminal_and_not_when_quiet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    items = [1, 2, 3]
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert progress(items, "evaluate", "image") is items
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", terminal)
    assert progress(items, "evaluate", "image", quiet=True) is items
    assert list(progress(items, "evaluate", "image")) == items
    assert "evaluate:" in terminal.getvalue() and "/3 " in terminal.getvalue()
