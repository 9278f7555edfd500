"""TensorBoard event files beside the CSVs when tensorboard is installed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from train_helpers import make_image_folder

from inception_v4 import cli


def test_training_writes_tensorboard_scalars_matching_the_csv(tmp_path: Path) -> None:
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert cli.main(["train", "--model", "inception_v4", "--data", str(data), "--out", str(out),
                     "--width", "0.25", "--depth", "0.2", "--image-size", "75", "--batch-size",
                     "8", "--epochs", "1", "--workers", "0", "--log-every", "1"]) == 0
    events = ea.EventAccumulator(str(out))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"metrics/loss", "metrics/lr", "eval/top1_err", "eval/dead_fraction"} <= set(tags)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    logged = [(e.step, e.value) for e in events.Scalars("metrics/loss")]
    assert [s for s, _ in logged] == [int(r["step"]) for r in rows]
    assert [v for _, v in logged] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-5)
