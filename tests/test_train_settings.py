"""Settings in sight: ``train --print-config`` prints the resolved settings as a preset and
trains nothing; ``--help`` says the defaults are the preset's; re-running a finished run says
so instead of reporting a silent 0 images/s."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from train_helpers import make_image_folder

from inception_v4.cli import main
from inception_v4.train import load_preset, replace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_print_config_is_the_resolved_preset_and_trains_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main(["train", "--preset", "small", "--epochs", "3", "--out", str(out),
                 "--set", "lr=0.1", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# inception-v4 train --preset small --out")
    (tmp_path / "printed.toml").write_text(text)
    want = replace(load_preset("small"), {"epochs": 3, "out": str(out), "lr": 0.1})
    assert load_preset(str(tmp_path / "printed.toml")) == want
    assert tomllib.loads(text)["warmup_epochs"] == 4.0 and not out.exists()


def test_train_help_gives_each_presets_default(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default from the preset; paper: 160.0, small: 16.0)" in text
    assert "the defaults below are the chosen preset's" in text


def test_rerunning_a_finished_run_says_so(tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    data = make_image_folder(tmp_path / "data", classes=2, train=4, val=2)
    args = ["train", "--model", "inception_resnet_v1", "--data", str(data), "--out",
            str(tmp_path / "run"), "--width", "0.25", "--depth", "0.2", "--image-size", "75",
            "--batch-size", "4", "--epochs", "1", "--workers", "0", "--device", "cpu"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "images/s" in first and "already holds a finished run" not in first
    assert main(args) == 0
    again = capsys.readouterr().out
    assert f"{tmp_path / 'run'} already holds a finished run (2 steps): nothing was trained" \
        in again
    assert "images/s" not in again


@pytest.mark.parametrize("native", [True, False])
def test_small_preset_uses_bf16_autocast_only_where_the_cpu_has_native_bf16(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """``amp = "auto"`` (the small preset's): bf16 autocast on a CPU with AVX512-BF16 or AMX,
    float32 elsewhere (oneDNN emulates bf16 there, slower than float32). The CPU's
    capability is faked both ways; the run records what it used."""
    import torch

    from inception_v4.train.build import native_bf16

    assert load_preset("small").amp == "auto"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert native_bf16(torch.device("cpu")) is native
    data = make_image_folder(tmp_path / "data", classes=2, train=4, val=2)
    out = tmp_path / "run"
    assert main(["train", "--preset", "small", "--data", str(data), "--out", str(out),
                 "--width", "0.25", "--depth", "0.2", "--image-size", "75", "--batch-size",
                 "4", "--max-steps", "1", "--workers", "0", "--device", "cpu"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["amp"] == ("bf16" if native else "off")
