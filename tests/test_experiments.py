"""The experiments: the plain twin, the dead-fraction metric, the "died" criterion, and
seconds-long runs of both experiments that write a well-formed report, CSV and plots."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from inception_v4.cli import main
from inception_v4.experiments.curves import Curve
from inception_v4.experiments.plan import scaling_plan
from inception_v4.experiments.report import (
    PairRow,
    pair_rows,
    residual_verdict,
    scaling_verdict,
)
from inception_v4.train.distributed import Dist
from inception_v4.train.step import validate


class _Stub(nn.Module):
    """A 'network' whose last activation before the pool is a fixed, hand-made tensor."""

    def __init__(self, feats: torch.Tensor) -> None:
        super().__init__()
        self.feats = feats

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feats[: len(x)]

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return f.mean((2, 3))


def test_dead_fraction_counts_exact_zeros_before_the_pool() -> None:
    feats = torch.ones(4, 3, 2, 2)
    feats[0] = 0.0          # 12 of 48 values
    feats[1, 0, 0, 0] = 0.0  # 1 more; 1e-9 is not an exact zero
    feats[2, 1, 1, 1] = 1e-9
    batch = (torch.zeros(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]), 0)
    d = Dist(0, 1, 0, torch.device("cpu"), False)
    result = validate(_Stub(feats), [batch], d)
    assert result["dead_fraction"] == pytest.approx(13 / 48)


def test_died_criterion_needs_zeros_to_the_end_or_a_nonfinite_loss() -> None:
    c = Curve("scale 1, lr x1", 0, steps=[10, 20, 30, 40], dead=[0.2, 0.995, 0.5, 0.999])
    assert c.died_at() == 40
    c.dead = [0.2, 0.995, 1.0, 0.999]
    assert c.died_at() == 20
    assert Curve("x", 0, steps=[10], dead=[0.1], nonfinite_step=7).died_at() == 7
    assert Curve("x", 0, steps=[10], dead=[0.98]).died_at() is None


def test_verdicts_follow_the_stated_rules() -> None:
    def row(ratio, low, high, censored_a=False, censored_b=False):  # noqa: ANN001, ANN202
        return PairRow(0.7, 100, 200, censored_a, censored_b, ratio, low, high)

    assert residual_verdict([row(0.5, 0.4, 0.6)]) == "reproduced"
    assert residual_verdict([row(1.5, 1.2, 1.8)]) == "not reproduced"
    assert residual_verdict([row(0.95, 0.8, 1.1)]).startswith("inconclusive")
    assert residual_verdict([]).startswith("inconclusive")
    # the plain arm never got there: an upper bound below 1 still shows the residual faster
    assert residual_verdict([row(0.2, 0.1, 0.3, censored_b=True)]) == "reproduced"
    # the residual arm never got there: a ratio below 1 is only a lower bound
    assert residual_verdict([row(0.8, 0.7, 0.9, censored_a=True)]).startswith("inconclusive")
    assert residual_verdict([row(1.5, 1.2, 1.8, censored_a=True)]) == "not reproduced"
    assert residual_verdict([row(1.5, 1.2, 1.8, censored_b=True)]).startswith("inconclusive")
    # a target neither arm reached in every run bounds nothing and is left out
    both = row(0.97, 0.9, 1.0, censored_a=True, censored_b=True)
    assert residual_verdict([row(0.5, 0.4, 0.6), both]) == "reproduced"
    assert "70%" in residual_verdict([row(0.5, 0.4, 1.2), both])


def test_pair_rows_count_unreached_targets_as_censored_at_the_last_step() -> None:
    fast = [Curve("res", s, steps=[50, 100, 150], top1=[0.8, 0.6, 0.5]) for s in range(3)]
    slow = [Curve("plain", s, steps=[50, 100, 150], top1=[0.9, 0.85, 0.82]) for s in range(3)]
    rows = {r.target: r for r in pair_rows(fast + slow, ("res", "plain"), (0.8, 0.6, 0.3))}
    assert 0.3 not in rows  # reached by no run: nothing to compare
    assert (rows[0.8].steps_a, rows[0.8].steps_b, rows[0.8].bound) == (50, 150, "≤ ")
    assert rows[0.8].ratio == 50 / 150 and rows[0.6].ratio == 100 / 150
    assert residual_verdict(list(rows.values())) == "reproduced"
    died = Curve("scale 1, lr x4", 0, steps=[5], dead=[1.0])
    alive = Curve("scale 0.1, lr x4", 0, steps=[5], dead=[0.3])
    assert "Reproduced" in scaling_verdict([died, alive])
    assert "Not reproduced" in scaling_verdict([alive])


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> str:  # noqa: ANN001
    """scikit-learn's digits as an ImageFolder: 10 classes, 12 images each (8×8 → PNG)."""
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digits")
    d = load_digits()
    for label in range(10):
        folder = root / f"digit{label}"
        folder.mkdir()
        for i, idx in enumerate(np.flatnonzero(d.target == label)[:12]):
            pixels = (d.images[idx] * 16).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return str(root)


def _read(path) -> list[dict]:  # noqa: ANN001
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("kind,extra,arms", [
    ("residual", [], 3),
    ("scaling", ["--scales", "1.0,0.1", "--width", "0.25"], 4),
])
def test_seconds_long_experiment_writes_report_csv_and_plots(
        kind: str, extra: list[str], arms: int, digits_folder: str, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / kind
    argv = ["experiment", kind, "--data", digits_folder, "--out", str(out), "--seeds", "1",
            "--epochs", "1", *extra]
    assert main(argv) == 0
    for name in ("report.md", "results.csv", "curves.png", "dead_fraction.png"):
        assert (out / name).stat().st_size > 0, name
    rows = _read(out / "results.csv")
    assert len(rows) == arms and {r["seed"] for r in rows} == {"0"}
    assert all(float(r["final_top1_err"]) <= 1.0 for r in rows)
    report = (out / "report.md").read_text()
    assert "## Conclusion" in report and "## Setup" in report
    assert any(v in report for v in ("reproduced", "Reproduced", "inconclusive", "Inconclusive"))
    mtime = (out / "results.csv").stat().st_mtime_ns
    assert main(argv) == 0  # finished runs are skipped, the report is rewritten
    assert len(_read(out / "results.csv")) == arms
    assert (out / "results.csv").stat().st_mtime_ns >= mtime


def test_dry_run_prints_plan_costs_and_time(digits_folder: str, tmp_path, capsys,  # noqa: ANN001
                                            monkeypatch) -> None:  # noqa: ANN001
    """The full-scale plan's counts are the golden ones and its time is the arithmetic of the
    rate timed here (timing a 299 px Inception-ResNet-v2 step is the real command's job;
    ``measured_rate`` itself is tested below on a tiny network)."""
    from inception_v4.experiments import dryrun

    timed = []

    def rate(model, image_size, batch, device):  # noqa: ANN001, ANN202
        timed.append((type(model).__name__, image_size, batch, device))
        return 8.0

    monkeypatch.setattr(dryrun, "measured_rate", rate)
    argv = ["experiment", "residual", "--data", digits_folder, "--out", str(tmp_path / "d"),
            "--scale", "full", "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "3 arms × 3 seeds = 9 runs" in text
    # golden IR-v2 counts with the 1000-way classifier swapped for the data's 10 classes
    assert "54.32 M params" in text and "13.154 GMACs/image" in text
    # each distinct network timed once (arms that share one share its rate), at 299, batch 4
    assert 1 <= len(timed) < 3 and all(t[1:] == (299, 4, "cpu") for t in timed), timed
    images, epochs = (float(v) for v in re.search(
        r": (\d+) training images, ([\d.]+) epochs per run", text).groups())
    arms = text.count(" 8.0 img/s ")
    hours = images * epochs / 8.0 * 3 * arms / 3600
    assert f"estimated training time: {hours:.2f} h" in text
    assert not (tmp_path / "d").exists()


def test_measured_rate_times_real_training_steps() -> None:
    from inception_v4.experiments.dryrun import measured_rate

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    before = [p.detach().clone() for p in model.parameters()]
    rate = measured_rate(model, image_size=16, batch=4, device="cpu")
    assert 0 < rate < float("inf")
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_small_scaling_plan_trains_one_epoch_at_the_printed_learning_rate() -> None:
    plan = scaling_plan("DATA", "small", 3, None, (1.0, 0.1))
    assert plan.base.epochs == 1.0 and plan.base.optimizer == "rmsprop_tf"
    assert plan.base.reference_batch == plan.base.batch_size == 64  # 0.045 as printed
    assert sorted({a.fields["lr"] for a in plan.arms}) == [0.045, 0.18]
    assert len(plan.runs(Path("out"))) == 2 * 2 * 3


def test_a_stop_signal_ends_the_plan_without_marking_the_run_finished(
        digits_folder: str, tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    """Ctrl-C during the first run: the plan stops there, exit 130 naming the checkpoint; no
    summary.json, so the next `experiment` resumes that run instead of skipping it."""
    from inception_v4.experiments import plan_runner as runner

    calls = []

    def preempted(config, command):  # noqa: ANN001, ANN202
        calls.append(config.out)
        return {"stopped": "preempted", "stop_signal": "SIGINT", "steps": 7,
                "stopped_checkpoint": f"{config.out}/checkpoints/step-00000007.pt"}

    monkeypatch.setattr(runner, "fit", preempted)
    out = tmp_path / "residual"
    assert main(["experiment", "residual", "--data", digits_folder, "--out", str(out),
                 "--seeds", "1", "--epochs", "1"]) == 130
    assert len(calls) == 1 and not list(out.rglob("summary.json"))
    text = capsys.readouterr().out
    assert f"preempted (SIGINT) in {calls[0]} after step 7; checkpoint" in text
    assert "Run the same command again to continue." in text
