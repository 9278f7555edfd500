"""Training end to end: overfitting, real data, the CLI, bad files, a non-finite loss."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import torch
from train_helpers import make_image_folder

from inception_v4 import cli, create_model
from inception_v4.train import RMSpropTF, TrainConfig, compute_loss, fit, param_groups
from inception_v4.train import step as train_step_module

TINY = {"width": 0.25, "depth": 0.2, "image_size": 75}


def test_train_overfits_one_batch() -> None:
    model = create_model("inception_resnet_v2", num_classes=4, width=0.25, depth=0.2,
                         drop_rate=0.0)
    x, y = torch.randn(8, 3, 75, 75), torch.arange(8) % 4
    opt = RMSpropTF(param_groups(model, 4e-5), lr=0.01)
    config = TrainConfig(label_smoothing=0.0)
    first = None
    for _ in range(25):
        loss = compute_loss(model(x), y, config)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.0 and loss.item() < 0.05
    assert torch.equal(model(x).argmax(1), y)


def test_train_aux_head_adds_weighted_loss() -> None:
    logits, aux = torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    c = TrainConfig(label_smoothing=0.1, aux_weight=0.4)
    expected = compute_loss(logits, y, c) + 0.4 * compute_loss(aux, y, c)
    assert torch.allclose(compute_loss((logits, aux), y, c), expected)


def test_train_on_real_data_beats_chance(tmp_path: Path) -> None:
    """Fashion-MNIST (or the digits fallback) through ``embedded``: 10 classes, chance 90 %
    error; 60 steps of 32 images reach about 40 % (three learning rates tried)."""
    config = TrainConfig(model="inception_resnet_v1", data="embedded", out=str(tmp_path),
                         **TINY, batch_size=32, epochs=1.0, max_steps=60, optimizer="sgd",
                         lr=0.1, reference_batch=32, schedule="onecycle",
                         bn_momentum=0.1, weight_decay=5e-5, ema_decay=0.99, workers=0,
                         eval_max_images=300, log_every=20, checkpoint_every=0)
    config = _short_cycle(config, steps=60)
    result = fit(config)
    assert result["steps"] == 60 and result["stopped"] == "max_steps"
    assert result["top1_err"] < 0.6, result


def _short_cycle(config: TrainConfig, steps: int) -> TrainConfig:
    """Fit the one-cycle schedule to ``steps`` steps of a much longer epoch."""
    from dataclasses import replace

    from inception_v4.data import open_dataset

    n = len(open_dataset(config.data, "train", seed=config.seed))
    return replace(config, epochs=steps * config.batch_size / n)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_cli_end_to_end_writes_all_outputs(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "run"
    start = time.monotonic()
    code = cli.main(["train", "--model", "inception_resnet_v2", "--data", str(data),
                     "--out", str(out), "--width", "0.25", "--depth", "0.2", "--image-size", "75",
                     "--batch-size", "8", "--epochs", "2", "--workers", "0", "--log-every", "1",
                     "--checkpoint-every", "1", "--set", "ema_decay=0.9", "--set", "lr=0.01"])
    assert code == 0 and time.monotonic() - start < 120
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["model"] == "inception_resnet_v2"
    assert record["config"]["ema_decay"] == 0.9 and record["config"]["optimizer"] == "rmsprop_tf"
    assert record["versions"]["torch"] == torch.__version__ and "train" in record["command"]
    metrics = _read(out / "metrics.csv")
    assert list(metrics[0]) == ["step", "epoch", "lr", "loss", "images_per_s", "seconds"]
    assert [int(r["step"]) for r in metrics] == list(range(1, 7))  # 24 images / 8 × 2 epochs
    evals = _read(out / "eval.csv")
    assert list(evals[0]) == ["epoch", "step", "top1_err", "top5_err", "ema_top1_err",
                              "ema_top5_err", "dead_fraction"]
    assert [int(r["step"]) for r in evals] == [3, 6]
    assert all(0.0 <= float(r["dead_fraction"]) <= 1.0 for r in evals)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == 6 and state["ema"] is not None
    assert (out / "checkpoints" / "best.pt").is_file()


def test_train_cli_rejects_unknown_set_key(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code = cli.main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                     "--set", "learning_rate=1"])
    assert code == 2
    assert "valid keys:" in capsys.readouterr().err


def _add_bad_files(folder: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 30, 30)).save(folder / "truncated.jpg")
    data = (folder / "truncated.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image\n")


def test_train_skips_and_reports_bad_files(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", train=7)
    _add_bad_files(data / "train" / "c1")
    config = TrainConfig(model="inception_v4", data=str(data), out=str(tmp_path / "run"),
                         **TINY, batch_size=8, epochs=1.0, workers=0, log_every=1, lr=0.01)
    result = fit(config)
    assert result["stopped"] == "done" and result["steps"] == 3  # 24 files / 8
    assert result["skipped_per_epoch"] == [3]


def test_train_non_finite_loss_stops_and_keeps_checkpoint(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:  # noqa: ANN001
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "run"
    real = train_step_module.compute_loss
    calls = []

    def poisoned(output, labels, config):  # noqa: ANN001, ANN202
        calls.append(1)
        loss = real(output, labels, config)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(train_step_module, "compute_loss", poisoned)
    code = cli.main(["train", "--model", "inception_v4", "--data", str(data), "--out", str(out),
                     "--width", "0.25", "--depth", "0.2", "--image-size", "75", "--batch-size",
                     "4", "--workers", "0", "--checkpoint-every", "2", "--epochs", "1"])
    last = out / "checkpoints" / "last.pt"
    err = capsys.readouterr().err
    assert code == 3
    assert "non-finite loss (nan) at step 3" in err and str(last) in err
    state = torch.load(last, weights_only=True)
    assert state["progress"]["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
