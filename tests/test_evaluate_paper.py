"""The paper's published errors (Tables 2-5) and the releases' beside a measured result."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from inception_v4.cli import main
from inception_v4.evaluate import commands, paper
from inception_v4.evaluate.loop import Predictions

ILSVRC = {"images_total": 50_000, "images": 50_000}


def _errors(models: list[str], crops: int) -> list[tuple[str, str, float, float]]:
    return [(p.source, p.set, p.top1_err, p.top5_err) for p in paper.lookup(models, crops)]


def test_lookup_reads_tables_2_to_5_and_the_releases():
    assert _errors(["inception_v4"], 12) == [("paper Table 3", "all", 0.187, 0.042)]
    assert _errors(["inception_resnet_v1"], 144) == [("paper Table 4", "all", 0.188, 0.043)]
    one = _errors(["inception_resnet_v2"], 1)
    assert one[0] == ("paper Table 2", "non-blacklisted", 0.199, 0.049)
    assert [s for s, *_ in one[1:]] == ["TF-slim release", "timm tf_in1k"]
    # Both builds of Inception-ResNet-v2 are read against the paper's row
    assert _errors(["inception_resnet_v2_paper"], 144) == _errors(["inception_resnet_v2"], 144)
    table5 = ["inception_resnet_v2", "inception_v4", "inception_resnet_v2_paper",
              "inception_resnet_v2"]
    assert _errors(table5, 144) == [("paper Table 5", "all", 0.165, 0.031)]
    assert _errors(table5, 12) == [] and _errors(table5[:3], 144) == []
    assert _errors(["inception_resnet_v1_facenet"], 1) == []


def test_published_beside_an_ilsvrc_result_per_set():
    result = {**ILSVRC, "crops": 1, "subset": {"name": "non-blacklisted", "excluded": 1762}}
    out = paper.published_beside(result, ["inception_v4"], 1001, 1000)
    assert [(r["set"], r["source"]) for r in out["rows"]] == [
        ("non-blacklisted", "paper Table 2"), ("all", "TF-slim release"), ("all", "timm tf_in1k")]
    assert out["notes"] == []
    without = paper.published_beside({**ILSVRC, "crops": 1}, ["inception_v4"], 1000, 1000)
    assert [r["set"] for r in without["rows"]] == ["all", "all"]
    assert "pass --blacklist" in without["notes"][0]


@pytest.mark.parametrize("change, why", [
    ({"images_total": 3925}, "not ILSVRC-2012 validation"),
    ({"images": 500}, "500 of the 50,000 images evaluated"),
    ({"model_classes": 10}, "10 outputs"),
    ({"data_classes": 10}, "not ILSVRC-2012 validation"),
    ({"models": ["inception_resnet_v1_facenet"]}, "no published figure"),
])
def test_published_figures_omitted_saying_why(change, why):
    args = {"models": ["inception_v4"], "model_classes": 1000, "data_classes": 1000}
    args.update({k: v for k, v in change.items() if k in args})
    result = {**ILSVRC, "crops": 12, **{k: v for k, v in change.items() if k in ILSVRC}}
    out = paper.published_beside(result, args["models"], args["model_classes"],
                                 args["data_classes"])
    assert out["rows"] == [] and why in out["omitted"]


class _Names:
    """50,000 validation file names in 1000 classes, without images."""

    num_classes = 1000
    classes = [f"n{k:08d}" for k in range(1000)]  # wnid-like; the stub weights name none

    def __len__(self) -> int:
        return 50_000

    def name(self, i: int) -> str:
        return f"ILSVRC2012_val_{i + 1:08d}.JPEG"


@pytest.fixture
def stubbed(monkeypatch):
    """``evaluate``/``ensemble`` on ILSVRC-2012 validation with the evaluation stubbed: 50,000
    names in 1000 classes, 20 % top-1 and 5 % top-5 error, 1001-output models."""
    n = 50_000
    correct1, correct5 = torch.arange(n) % 5 != 0, torch.arange(n) % 20 != 0
    pred = Predictions(torch.arange(n), torch.zeros(n), torch.zeros(n, 5), torch.zeros(n, 5),
                       torch.zeros(n), correct1, correct5, seconds=1.0)
    monkeypatch.setattr(commands, "load_for_eval", lambda name, weights, **k: (
        SimpleNamespace(num_classes=1001, pretrained_cfg={}),
        {"model": name or "inception_v4", "weights": weights, "classes": None, "kind": None,
         "compiled": False}))
    monkeypatch.setattr(commands, "open_eval_dataset", lambda *a, **k: (_Names(), {
        "layout": "flat+labels", "split": "all", "images_found": n, "labels": "val.txt"}))
    monkeypatch.setattr(commands, "collect_predictions", lambda *a, **k: pred)


def test_evaluate_prints_and_writes_the_paper_beside_the_measured(stubbed, tmp_path, capsys):
    blacklist = tmp_path / "blacklist.txt"
    blacklist.write_text("\n".join(str(i) for i in range(1, 1763)) + "\n")
    out = tmp_path / "r.json"
    assert main(["evaluate", "--weights", "w", "--data", "val", "--blacklist", str(blacklist),
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "  paper Table 2" in printed and "  TF-slim release" in printed
    lines = printed.splitlines()
    table2 = lines.index(next(ln for ln in lines if ln.startswith("  paper Table 2")))
    assert lines[table2 - 1].startswith("non-blacklisted") and "20.00%" in lines[table2]
    r = json.loads(Path(out).read_text())
    rows = {(x["set"], x["source"]): x for x in r["published"]["rows"]}
    assert rows[("non-blacklisted", "paper Table 2")]["top1_err"] == 0.2  # a fraction
    assert rows[("all", "timm tf_in1k")]["reference"].startswith("timm results-imagenet.csv")


def test_ensemble_of_table_5_members_prints_table_5(stubbed, tmp_path, capsys):
    members = ["inception_v4=a"] + [f"inception_resnet_v2={w}" for w in "bcd"]
    argv = [x for m in members for x in ("--member", m)]
    out = tmp_path / "r.json"
    assert main(["ensemble", *argv, "--data", "val", "--crops", "144", "--json", str(out)]) == 0
    assert "  paper Table 5                 16.50%      3.10%" in capsys.readouterr().out
    assert json.loads(out.read_text())["published"]["rows"][0]["top5_err"] == 0.031
    assert main(["ensemble", *argv[:4], "--data", "val", "--crops", "144"]) == 0
    assert "published figures omitted: no published figure" in capsys.readouterr().out
