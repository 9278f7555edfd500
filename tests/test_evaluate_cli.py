"""End to end: a tiny network trained in the test, evaluated through ``inception-v4 ...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from inception_v4.cli import main
from inception_v4.data import eval_transform, open_dataset
from inception_v4.evaluate.loading import class_names, load_for_eval
from inception_v4.evaluate.loop import collect_predictions, select_indices
from inception_v4.weights import save_pretrained

SIZE = 75


@pytest.fixture(scope="module")
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            ) -> dict[str, Path | str]:
    """Imagenette-96 when ../shared is there (else the embedded set): 2 training steps of a
    width-0.25, depth-0.2 Inception-ResNet-v2 at 75×75, as a run folder and our folder."""
    from inception_v4.train import TrainConfig, fit

    try:
        data = str(request.getfixturevalue("shared_dir") / "datasets" / "imagenette-96")
    except pytest.skip.Exception:  # no ../shared: the embedded dataset instead
        data = "embedded"

    root = tmp_path_factory.mktemp("evaluate_e2e")
    fit(TrainConfig(model="inception_resnet_v2", data=data, out=str(root / "run"), width=0.25,
                    depth=0.2, image_size=SIZE, max_steps=2, batch_size=4, reference_batch=4,
                    optimizer="sgd", lr=0.05, ema_decay=0.5, eval_max_images=4, workers=0,
                    device="cpu", resume="never", log_every=1))
    model, _ = load_for_eval(None, root / "run")
    save_pretrained(model, root / "folder")
    return {"data": data, "run": root / "run", "folder": root / "folder", "root": root}


def _accuracy_by_hand(folder: Path, data: str, limit: int) -> float:
    """Top-1 accuracy via the data package's own eval transform and a plain forward pass."""
    model, _ = load_for_eval(None, folder)
    ds = open_dataset(data, "val")
    ds.transform = eval_transform(SIZE)
    batch = [ds[i] for i in select_indices(len(ds), limit)]
    with torch.no_grad():
        logits = model(torch.stack([x for x, _ in batch]))
    labels = torch.tensor([y for _, y in batch])
    return float((logits.argmax(1) == labels).double().mean())


def test_evaluate_cli_single_crop_matches_plain_forward_pass(trained: dict, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "result.json"
    rc = main(["evaluate", "--weights", str(trained["folder"]), "--data", trained["data"],
               "--limit", "20", "--workers", "0", "--device", "cpu", "--json", str(out),
               "--report", str(tmp_path / "report")])
    assert rc == 0
    r = json.loads(out.read_text())
    assert (r["model"], r["images"], r["crops"]) == ("inception_resnet_v2", 20, 1)
    assert r["top1_acc"] == pytest.approx(_accuracy_by_hand(trained["folder"], trained["data"],
                                                            20))
    assert r["top1_err"] == pytest.approx(1 - r["top1_acc"]) and r["top5_acc"] >= r["top1_acc"]
    assert r["unit"].startswith("fraction")  # files hold fractions; people are shown percent
    assert r["images_per_s"] > 0 and "central crop_pct" in r["crop_definition"]
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"per_class.csv",
                                                                 "confusions.csv", "worst.png"}
    printed = capsys.readouterr().out
    assert "top-1 err" in printed and f"{100 * r['top1_err']:.2f}%" in printed
    assert r["published"]["rows"] == [] and "not ILSVRC-2012" in r["published"]["omitted"]
    assert "published figures omitted: not ILSVRC-2012 validation" in printed


def test_evaluate_cli_run_folder_ema_12_crops_and_blacklist(trained: dict, tmp_path: Path) -> None:
    ds = open_dataset(trained["data"], "val")
    picked = select_indices(len(ds), 6)
    listed = [int(Path(ds.name(i)).stem.rsplit("_", 1)[1]) for i in picked[:2]
              if "ILSVRC2012_val_" in ds.name(i)]
    (tmp_path / "bl.txt").write_text("".join(f"{k}\n" for k in listed or [1]))
    out = tmp_path / "r.json"
    argv = ["evaluate", "--weights", str(trained["run"]), "--ema", "--crops", "12",
            "--data", trained["data"], "--limit", "6", "--workers", "0", "--device", "cpu",
            "--blacklist", str(tmp_path / "bl.txt"), "--json", str(out)]
    if not listed:  # the embedded set: no name carries a validation index, nothing to match
        assert main(argv) == 2
        return
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert (r["images"], r["crops"], r["ema"]) == (6, 12, True)
    assert (r["subset"]["images"], r["subset"]["excluded"]) == (4, 2)


def test_ema_flag_loads_the_averaged_weights(trained: dict) -> None:
    ckpt = torch.load(trained["run"] / "checkpoints" / "last.pt", weights_only=True)
    model, info = load_for_eval(None, trained["run"], ema=True)
    assert info["classes"] is not None and len(info["classes"]) == model.num_classes
    for key, value in ckpt["ema"]["module"].items():
        assert torch.equal(model.state_dict()[key], value), key
    raw, _ = load_for_eval("inception_resnet_v2", trained["run"])
    assert not torch.equal(raw.head.fc.weight, model.head.fc.weight)
    assert model.pretrained_cfg["input_size"] == (3, SIZE, SIZE)


def test_ensemble_cli_of_identical_members_equals_evaluate(trained: dict, tmp_path: Path) -> None:
    common = ["--data", trained["data"], "--limit", "4", "--workers", "0", "--device", "cpu"]
    assert main(["evaluate", "--weights", str(trained["folder"]), "--json",
                 str(tmp_path / "one.json"), *common]) == 0
    assert main(["ensemble", "--member", f"inception_resnet_v2={trained['folder']}",
                 "--member", str(trained["run"]), "--json", str(tmp_path / "two.json"),
                 *common]) == 0
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert len(two["members"]) == 2 and "softmax" in two["rule"]
    assert (two["top1_err"], two["top5_err"]) == (one["top1_err"], one["top5_err"])


def test_predict_cli_prints_named_classes(trained: dict, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    ds = open_dataset(trained["data"], "val")
    ds.load(0).save(tmp_path / "img.png")
    out = tmp_path / "p.json"
    assert main(["predict", str(tmp_path / "img.png"), "--weights", str(trained["run"]),
                 "--topk", "100", "--crops", "12", "--device", "cpu", "--json", str(out)]) == 0
    top = json.loads(out.read_text())["predictions"][0]["top"]
    assert sorted(t["name"] for t in top) == sorted(ds.classes)
    assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-5)
    assert top[0]["name"] in capsys.readouterr().out


def test_model_weights_mismatch_and_bad_image_are_clear_errors(
        trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["evaluate", "--model", "inception_v4", "--weights", str(trained["folder"]),
               "--data", trained["data"], "--limit", "2", "--workers", "0"])
    assert rc == 2 and "holds inception_resnet_v2 weights" in capsys.readouterr().err
    (tmp_path / "bad.jpg").write_bytes(b"GIF89a but not really")
    rc = main(["predict", str(tmp_path / "bad.jpg"), "--weights", str(trained["folder"])])
    assert rc == 2 and "bad.jpg" in capsys.readouterr().err


def test_class_names_imagenet_and_own() -> None:
    assert class_names(1000)[0] == "tench" and len(class_names(1000)) == 1000
    assert class_names(1001)[:2] == ["background", "tench"]
    assert class_names(2, ["cat", "dog"]) == ["cat", "dog"]
    assert class_names(3, ["cat", "dog"]) == ["class 0", "class 1", "class 2"]


@pytest.mark.isa
def test_bf16_evaluation_agrees_with_float32_top1(trained: dict, tmp_path: Path) -> None:
    """--dtype bfloat16 (the fused graph in bf16): the same top-1 class as float32 on at
    least 99 % of the val images evaluated, and the JSON says which dtype ran."""
    fp32, _ = load_for_eval(None, trained["folder"])
    bf16, info = load_for_eval(None, trained["folder"], dtype=torch.bfloat16)
    assert info["dtype"] == "bfloat16"
    ds = open_dataset(trained["data"], "val")
    a = collect_predictions(fp32, ds, 1, limit=100)
    b = collect_predictions(bf16, ds, 1, limit=100)
    assert torch.equal(a.index, b.index) and len(a.index) == min(100, len(ds))
    agree = float((a.top_class[:, 0] == b.top_class[:, 0]).double().mean())
    assert agree >= 0.99, agree
    out = tmp_path / "bf16.json"
    assert main(["evaluate", "--weights", str(trained["folder"]), "--data", trained["data"],
                 "--limit", "8", "--workers", "0", "--device", "cpu", "--dtype", "bfloat16",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["dtype"] == "bfloat16"


CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def _cifar_like_folder(root: Path) -> Path:
    """A user's own CIFAR-10 folder: its ten class folders, two 32×32 images each."""
    for k, name in enumerate(CIFAR10):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (32, 32), (25 * k, 8 * i, 100)).save(root / name / f"{i}.png")
    return root


def test_evaluate_refuses_weights_of_other_classes_unless_by_index(
        trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Weights trained on Imagenette (or the embedded set: 10 classes too) meet a CIFAR-10
    folder: same count, other names. evaluate and ensemble refuse, naming classes of each
    side; --by-index scores anyway; the same weights on their own data pass the check."""
    data = _cifar_like_folder(tmp_path / "cifar10")
    base = ["--data", str(data), "--workers", "0", "--device", "cpu"]
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(trained["run"]), *base]) == 2
    err = capsys.readouterr().err
    assert "'airplane'" in err and "--by-index" in err and err.count("\n") == 1
    weights_names = load_for_eval(None, trained["run"])[1]["classes"]
    assert repr(weights_names[0]) in err
    assert main(["ensemble", "--member", str(trained["folder"]), *base]) == 2
    assert "'airplane'" in capsys.readouterr().err
    assert main(["evaluate", "--weights", str(trained["run"]), "--by-index", "--ema",
                 *base]) == 0
    out = capsys.readouterr().out
    assert "20 evaluated" in out  # a single tree: every image, and the output says so
    assert f"weights: {trained['run']} (training checkpoint, averaged weights)" in out
    assert "note: every image of this class-folder tree is scored, the images a training " \
           "run on it trained on included" in out


def test_class_check_matches_imagenet_weights_by_wnid() -> None:
    """ImageNet-1k weights carry no names: a wnid-named dataset must be ILSVRC's sorted
    order; display names (or the devkit's) cannot be checked and pass; 1001-class names with
    TF-slim's background match the 1000 without it."""
    from inception_v4.evaluate.classes import check_class_names, class_mismatch

    wnids = [f"n{k:08d}" for k in range(1000)]
    assert class_mismatch(None, 1001, wnids) is None
    assert class_mismatch(None, 1000, ["tench"] * 1000) is None
    assert "sorted order" in class_mismatch(None, 1000, wnids[::-1])
    assert "are not that list" in class_mismatch(None, 1000, wnids[:10])
    assert class_mismatch(["background", *wnids], 1001, wnids) is None
    words = [f"word {k}" for k in range(1000)]
    assert class_mismatch(wnids, 1000, words) is None  # our run on wnid folders, devkit words
    assert class_mismatch(["tench", "church"], 2, ["n01440764", "n03028079"]) is None
    assert class_mismatch(["tench", "church"], 2, ["class 0", "class 1"]) is None
    assert "different order" in class_mismatch(["b", "a"], 2, ["a", "b"])
    with pytest.raises(ValueError, match="only in the weights 'x'; only in the data 'b'"):
        check_class_names(["a", "x"], 2, ["a", "b"])
    check_class_names(["a", "x"], 2, ["a", "b"], by_index=True)
