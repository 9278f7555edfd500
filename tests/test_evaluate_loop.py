"""``evaluate`` over a real (tiny, hand-made) dataset with a stub model of known behaviour."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from inception_v4.data import open_dataset
from inception_v4.evaluate import collect_predictions, evaluate
from inception_v4.evaluate.failures import write_report
from inception_v4.evaluate.loop import select_indices

CLASSES = ["a", "b", "c", "d"]
RED = [30, 90, 150, 210]  # class c images are solid red RED[c]
# val image k (1-based ILSVRC index) → (folder class, colour class); 3 and 6 are mislabelled
VAL = {1: (0, 0), 2: (0, 0), 3: (1, 2), 4: (1, 1), 5: (2, 2), 6: (2, 3), 7: (3, 3), 8: (3, 3)}


class ColourStub(nn.Module):
    """Predicts the class whose red level is nearest the view's mean red (sharp softmax)."""

    def __init__(self, background: bool = False) -> None:
        super().__init__()
        self.background = background
        self.register_buffer("centres", torch.tensor(RED, dtype=torch.float32) / 255)
        self.pretrained_cfg = {"input_size": (3, 16, 16), "crop_pct": 0.875,
                               "interpolation": "bilinear", "mean": (0, 0, 0), "std": (1, 1, 1)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = -((x[:, 0].mean((1, 2))[:, None] - self.centres) ** 2) * 1000
        if self.background:  # TF-slim layout: a "background" class at index 0
            logits = torch.cat([torch.full_like(logits[:, :1], -50.0), logits], dim=1)
        return logits


def _save(path: Path, colour: int, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (RED[colour], 40, 40)).save(path)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    for c, name in enumerate(CLASSES):
        _save(tmp_path / "train" / name / "t.png", c)
    for k, (folder, colour) in VAL.items():
        _save(tmp_path / "val" / CLASSES[folder] / f"ILSVRC2012_val_{k:08d}.png", colour)
    return tmp_path


@pytest.mark.parametrize("crops", [1, 12])
def test_evaluate_counts_errors_and_blacklist_subset(data: Path, crops: int) -> None:
    ds = open_dataset(data, "val")
    r = evaluate(ColourStub(), ds, crops, blacklist={1, 3}, batch_size=24)
    assert (r["images"], r["top1_err"], r["top1_acc"]) == (8, 0.25, 0.75)
    assert r["top5_err"] == 0.0 and r["crops"] == crops and r["skipped"] == []
    assert r["crop_definition"].startswith(f"{crops} crop")
    sub = r["subset"]
    assert (sub["excluded"], sub["images"]) == (2, 6)
    assert sub["top1_err"] == pytest.approx(1 / 6)  # only val image 6 is wrong among 6


def test_evaluate_blacklist_file_and_background_class(data: Path, tmp_path: Path) -> None:
    listed = tmp_path / "blacklist.txt"
    listed.write_text("6\n7\n8\n")
    ds = open_dataset(data, "val")
    r = evaluate(ColourStub(background=True), ds, 1, blacklist=listed)
    assert r["top1_err"] == 0.25
    assert r["subset"]["images"] == 5 and r["subset"]["top1_err"] == pytest.approx(0.2)


def test_ensemble_of_identical_members_equals_one_member(data: Path) -> None:
    ds = open_dataset(data, "val")
    one = collect_predictions(ColourStub(), ds, 12)
    three = collect_predictions([ColourStub(), ColourStub(), ColourStub()], ds, 12)
    assert torch.equal(one.top_class, three.top_class)
    assert torch.allclose(one.top_prob, three.top_prob, atol=1e-6)


def test_model_with_other_classes_is_a_clear_error(data: Path) -> None:
    stub = ColourStub()
    stub.centres = stub.centres[:3]
    with pytest.raises(ValueError, match="predicts 3 classes but the dataset has 4"):
        evaluate(stub, open_dataset(data, "val"))


def test_unreadable_images_stop_with_the_list_unless_skipped(data: Path) -> None:
    for name in ("broken.png", "empty.png"):
        bad = data / "val" / "b" / name
        bad.write_bytes(b"not an image" if name == "broken.png" else b"")
    ds = open_dataset(data, "val")
    with pytest.raises(ValueError, match=r"2 unreadable image\(s\):.*broken.png.*empty.png.*"
                                         r"--skip-bad"):
        evaluate(ColourStub(), ds, batch_size=2)
    r = evaluate(ColourStub(), ds, skip_bad=True)
    assert r["images"] == 8 and len(r["skipped"]) == 2 and r["top1_err"] == 0.25


def test_limit_spreads_over_the_set(data: Path) -> None:
    assert select_indices(10, 4) == [0, 3, 6, 9]
    assert select_indices(3, 5) == [0, 1, 2]
    r = evaluate(ColourStub(), open_dataset(data, "val"), limit=4)
    assert r["images"] == 4


def test_report_per_class_confusions_and_contact_sheet(data: Path, tmp_path: Path) -> None:
    ds = open_dataset(data, "val")
    pred = collect_predictions(ColourStub(), ds, 1)
    paths = write_report(pred, ds, tmp_path / "report", worst=3)
    with open(paths["per_class"]) as f:
        rows = list(csv.DictReader(f))
    assert [(r["class_name"], r["images"], r["top1_errors"]) for r in rows] == [
        ("a", "2", "0"), ("b", "2", "1"), ("c", "2", "1"), ("d", "2", "0")]
    assert float(rows[1]["top1_acc"]) == 0.5
    with open(paths["confusions"]) as f:
        pairs = [(r["true_name"], r["predicted_name"], r["count"]) for r in csv.DictReader(f)]
    assert sorted(pairs) == [("b", "c", "1"), ("c", "d", "1")]
    assert Path(paths["worst"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
