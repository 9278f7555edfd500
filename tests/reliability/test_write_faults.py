"""A checkpoint write that fails (no space, no permission) and a loss that turns NaN or
infinite: a clear error, and the previous checkpoint stays intact and loadable."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import pytest
import torch
from conftest import TINY, tiny_args

from inception_v4 import checkpoint
from inception_v4.checkpoint import CheckpointWriteError, files
from inception_v4.cli import main
from inception_v4.train import TrainConfig, fit
from inception_v4.train import step as train_step_module


def _config(data: Path, out: Path, max_steps: int) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), max_steps=max_steps, **TINY)


def _fail_from_step(monkeypatch: pytest.MonkeyPatch, step: int, target: str,
                    error: OSError) -> None:
    """From the checkpoint of ``step`` on, ``target`` (fsync or open) raises ``error``."""
    failing = {"on": False}
    real_save_run = checkpoint.save_run

    def save_run(run, best=False):  # noqa: ANN001, ANN202
        failing["on"] = run.step >= step
        return real_save_run(run, best)

    monkeypatch.setattr(checkpoint, "save_run", save_run)
    if target == "fsync":
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if failing["on"]:
                raise error
            real_fsync(fd)

        monkeypatch.setattr(files.os, "fsync", fsync)
    else:
        def fake_open(path, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if failing["on"] and "w" in mode:
                raise error
            return open(path, mode, *args, **kwargs)

        monkeypatch.setattr(files, "open", fake_open, raising=False)


def _assert_intact(out: Path, step: int) -> None:
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    assert state["progress"]["step"] == step
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not list((out / "checkpoints").glob(".*tmp*")), "temporary file left behind"


def test_no_space_left_is_a_clear_error_and_keeps_the_last_checkpoint(
        tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch,
        reliability) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    _fail_from_step(monkeypatch, 2, "fsync", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(CheckpointWriteError) as err:
        fit(_config(tiny_data, out, 3))
    msg = str(err.value)
    assert err.value.errno == errno.ENOSPC and "No space left on device" in msg
    assert "last.pt" in msg and "previous last.pt is intact" in msg and "--resume auto" in msg
    _assert_intact(out, 1)
    monkeypatch.undo()  # space again: the run resumes from step 1 and finishes
    assert fit(_config(tiny_data, out, 2))["steps"] == 2
    reliability("checkpoint write", "no space left on device (ENOSPC at fsync)", 1,
                "CheckpointWriteError naming the file and the reason; previous last.pt "
                "intact, no temporary file left; the run resumes once space is back")


def test_no_permission_is_a_clear_command_error(tmp_path: Path, tiny_data: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture,
                                                reliability) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    _fail_from_step(monkeypatch, 2, "open",
                    PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    assert main(["train", *tiny_args(tiny_data, out, 3)]) == 2
    err = capsys.readouterr().err
    assert "cannot write checkpoint" in err and "Permission denied" in err
    assert "previous last.pt is intact" in err and len(err.strip().splitlines()) == 1
    _assert_intact(out, 1)
    reliability("checkpoint write", "no permission (EACCES opening the file)", 1,
                "`inception-v4 train` exits 2 with a one-line error; previous last.pt intact")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores a read-only folder's mode")
def test_read_only_checkpoint_folder(tmp_path: Path, tiny_data: Path, reliability) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    fit(_config(tiny_data, out, 1))
    (out / "checkpoints").chmod(0o555)
    try:
        with pytest.raises(CheckpointWriteError, match="Permission denied"):
            fit(_config(tiny_data, out, 2))
    finally:
        (out / "checkpoints").chmod(0o755)
    _assert_intact(out, 1)
    reliability("checkpoint write", "read-only checkpoint folder (chmod 555)", 1,
                "CheckpointWriteError; previous last.pt intact")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_at_that_step(tmp_path: Path, tiny_data: Path, bad: float,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture,
                                            reliability) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    calls = {"n": 0}
    real = train_step_module.compute_loss

    def compute_loss(output, labels, config):  # noqa: ANN001, ANN202
        calls["n"] += 1
        loss = real(output, labels, config)
        return loss * bad if calls["n"] == 3 else loss

    monkeypatch.setattr(train_step_module, "compute_loss", compute_loss)
    assert main(["train", *tiny_args(tiny_data, out, 5)]) == 3
    err = capsys.readouterr().err
    assert f"non-finite loss ({bad})" in err and "at step 3" in err
    assert "last.pt (after step 2)" in err
    _assert_intact(out, 2)
    reliability("training", f"loss becomes {bad} (injected at step 3)", 1,
                "stops at step 3 before updating the weights (exit 3), message names the "
                "step and last.pt after step 2, which is intact and finite")
