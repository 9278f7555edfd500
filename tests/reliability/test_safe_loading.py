"""Loading weights never runs code from the file; a checkpoint of another model or another
number of classes is an error naming the model in the file and the tensors that differ."""

from __future__ import annotations

import ast
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY
from evil_pickle import RunsCommand

from inception_v4 import create_model, load_model
from inception_v4.cli import main
from inception_v4.train import TrainConfig, fit


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    out = tmp_path_factory.mktemp("safe") / "run"
    fit(TrainConfig(data=str(tiny_data), out=str(out), max_steps=1, **TINY))
    return out


def _evil_run(root: Path, run: Path, how: str) -> tuple[Path, Path]:
    """A run folder whose last.pt is a real checkpoint plus an object that runs a command."""
    marker, folder = root / f"pwned-{how}", root / f"evil-{how}"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_bytes((run / "config.json").read_bytes())
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state["config"]["note"] = RunsCommand(marker)
    if how == "pickle":
        (folder / "checkpoints" / "last.pt").write_bytes(pickle.dumps(state, protocol=2))
    else:
        torch.save(state, folder / "checkpoints" / "last.pt")
    return folder, marker


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_crafted_training_checkpoint_is_refused_everywhere(
        run: Path, tiny_data: Path, tmp_path: Path, how: str, capsys: pytest.CaptureFixture,
        reliability) -> None:  # noqa: ANN001
    folder, marker = _evil_run(tmp_path, run, how)
    with pytest.raises(ValueError, match="refused to load .*last.pt"):
        load_model(folder)
    assert main(["evaluate", "--weights", str(folder), "--data", str(tiny_data), "--workers",
                 "0", "--device", "cpu"]) == 2
    assert main(["convert", str(folder), str(tmp_path / "out")]) == 2
    args = ["train", "--model", TINY["model"], "--data", str(tiny_data), "--out", str(folder),
            "--width", "0.25", "--depth", "0.2", "--image-size", "75", "--batch-size", "8",
            "--device", "cpu", "--workers", "0", "--max-steps", "2", "--resume", "auto",
            "--set", "reference_batch=8", "--set", "lr=0.02", "--set", "drop_rate=0.5",
            "--set", "ema_decay=0.9"]
    assert main(args) == 2  # resuming from it
    err = capsys.readouterr().err
    assert err.count("refused to load") == 3
    assert not marker.exists()
    reliability("safe loading", f"checkpoint with a code-running object ({how})", 4,
                "refused by load_model, evaluate, convert and train --resume; nothing ran")


def test_every_torch_load_in_src_is_weights_only(reliability) -> None:  # noqa: ANN001
    calls, bad = 0, []
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name) else "")
            if name in ("pickle.load", "pickle.loads", "dill.load"):
                bad.append(f"{path}:{node.lineno} {name}")
            if name == "torch.load":
                calls += 1
                flag = {k.arg: k.value for k in node.keywords}.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    bad.append(f"{path}:{node.lineno} torch.load without weights_only=True")
    assert calls >= 1 and not bad, bad  # one helper: checkpoint.files.torch_load
    reliability("safe loading", "torch.load calls in src/ (static check)", calls,
                "every one passes weights_only=True; no pickle.load anywhere")


def test_checkpoint_of_another_model_or_head_names_both(run: Path, reliability) -> None:  # noqa: ANN001
    ckpt = run / "checkpoints" / "last.pt"
    with pytest.raises(ValueError) as err:
        create_model("inception_v4", width=0.25, depth=0.2, pretrained=ckpt)
    msg = str(err.value)
    assert "holds inception_resnet_v2 weights" in msg and "'inception_v4' asked for" in msg
    with pytest.raises(ValueError) as err:
        create_model("inception_resnet_v2", width=0.25, depth=0.2, num_classes=5,
                     pretrained=ckpt)
    msg = str(err.value)
    assert "head.fc.weight: model (5, " in msg and "(3, " in msg and "num_classes" in msg
    reliability("safe loading", "training checkpoint into another model / class count", 2,
                "ValueError naming the model in the file and the one asked for, or the "
                "wrongly shaped tensors")


def test_torn_checkpoint_is_a_clear_resume_error(run: Path, tmp_path: Path,
                                                 tiny_data: Path, reliability) -> None:  # noqa: ANN001
    out = tmp_path / "torn"
    (out / "checkpoints").mkdir(parents=True)
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (out / "checkpoints" / "last.pt").write_bytes(data[: len(data) // 2])
    config = TrainConfig(data=str(tiny_data), out=str(out), max_steps=1, **TINY)
    with pytest.raises(ValueError, match="no usable checkpoint .*not a readable checkpoint"):
        fit(replace(config, resume="auto"))
    reliability("safe loading", "truncated last.pt on resume", 1,
                "ValueError: no usable checkpoint (last.pt not readable); --resume never to "
                "start over or --resume PATH")
