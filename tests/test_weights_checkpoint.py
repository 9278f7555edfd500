"""``load_model`` reads training checkpoints and run folders too; ``convert`` and ``export``
take them (``--ema`` for the averaged weights, ``--num-classes`` for a new head)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder

from inception_v4 import load_model, save_pretrained
from inception_v4.cli import main
from inception_v4.weights import read_config


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inception_v4.train import TrainConfig, fit

    root = tmp_path_factory.mktemp("ckpt")
    data = make_image_folder(root / "data", classes=3, train=8, val=2)
    fit(TrainConfig(model="inception_resnet_v2", data=str(data), out=str(root / "run"),
                    width=0.25, depth=0.2, image_size=80, batch_size=8, reference_batch=8,
                    max_steps=2, ema_decay=0.5, workers=0, device="cpu", log_every=1))
    return root / "run"


def _ckpt(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


def test_load_model_from_run_folder_and_checkpoint(run: Path) -> None:
    ckpt = _ckpt(run)
    for source in (run, run / "checkpoints" / "last.pt"):
        model = load_model(source)
        assert not model.training and model.spec.name == "inception_resnet_v2"
        assert all(torch.equal(v, ckpt["model"][k]) for k, v in model.state_dict().items())
        assert model.pretrained_cfg["input_size"] == (3, 80, 80)
        assert model.pretrained_cfg["label_names"] == ("c0", "c1", "c2")
        assert model.init_args["width"] == 0.25 and model.num_classes == 3
    averaged = load_model(run, ema=True)
    assert all(torch.equal(v, ckpt["ema"]["module"][k])
               for k, v in averaged.state_dict().items())
    assert not torch.equal(averaged.head.fc.weight, ckpt["model"]["head.fc.weight"])


def test_ema_errors_are_clear(run: Path, tmp_path: Path) -> None:
    folder = save_pretrained(load_model(run), tmp_path / "ours")
    with pytest.raises(ValueError, match="needs a training checkpoint"):
        load_model(folder, ema=True)
    ckpt = _ckpt(run)
    ckpt["ema"] = None
    torch.save(ckpt, tmp_path / "no_ema.pt")
    with pytest.raises(ValueError, match="no_ema.pt holds no averaged weights"):
        load_model(tmp_path / "no_ema.pt", ema=True)


def test_convert_run_folder_ema_and_new_head(run: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    assert main(["convert", str(run), str(tmp_path / "avg"), "--ema"]) == 0
    converted, ckpt = load_model(tmp_path / "avg"), _ckpt(run)
    assert all(torch.equal(v, ckpt["ema"]["module"][k])
               for k, v in converted.state_dict().items())
    assert converted.pretrained_cfg["label_names"] == ("c0", "c1", "c2")
    assert "(training checkpoint, averaged weights)" in capsys.readouterr().out
    assert main(["convert", str(run), str(tmp_path / "seven"), "--num-classes", "7"]) == 0
    assert "new 7-class head" in capsys.readouterr().out
    seven = load_model(tmp_path / "seven")
    assert seven.num_classes == 7 and read_config(tmp_path / "seven")["num_classes"] == 7
    body = {k: v for k, v in seven.state_dict().items() if not k.startswith("head.")}
    assert body and all(torch.equal(v, ckpt["model"][k]) for k, v in body.items())
    assert main(["convert", str(tmp_path / "avg"), str(tmp_path / "x"), "--ema"]) == 2
    assert "--ema (ema=True) needs a training checkpoint" in capsys.readouterr().err


def test_export_run_folder_without_model_name(run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(run), "--ema", "--format", "onnx",
                 "--out", str(out)]) == 0
    assert "inception_resnet_v2" in capsys.readouterr().out
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    cfg = json.loads(meta["pretrained_cfg"])
    assert cfg["input_size"] == [3, 80, 80] and cfg["label_names"] == ["c0", "c1", "c2"]
    assert main(["export", "--format", "onnx", "--out", str(out)]) == 2
    assert "--model NAME is needed" in capsys.readouterr().err
