"""Resume: N steps in one run equal N/2 steps, stop, resume, N/2 steps, bit for bit (CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder

from inception_v4.train import TrainConfig, fit


def _state(out: Path) -> dict:
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("workers", [0, 2])
def test_train_resume_mid_epoch_is_bitwise_identical(tmp_path: Path, workers: int) -> None:
    data = make_image_folder(tmp_path / "data")  # 24 training images: 3 steps per epoch
    # workers=2: each sample's augmentation is seeded by (run seed, epoch, index), whichever
    # loader process draws it, so a resume mid-epoch sees the same images
    base = TrainConfig(model="inception_resnet_v2", data=str(data), width=0.25, depth=0.2,
                       image_size=75, batch_size=8, epochs=2.0, workers=workers, lr=0.02,
                       drop_rate=0.5, ema_decay=0.9, checkpoint_every=0, log_every=1)
    whole = replace(base, out=str(tmp_path / "whole"), max_steps=4)
    fit(whole)
    halves = replace(base, out=str(tmp_path / "halves"), max_steps=2)
    first = fit(halves)
    assert first["steps"] == 2 and _state(tmp_path / "halves")["progress"]["position"] == 2
    second = fit(replace(halves, max_steps=4, resume="auto"))  # crosses the epoch boundary
    assert second["steps"] == 4
    a, b = _state(tmp_path / "whole"), _state(tmp_path / "halves")
    _assert_same(a["model"], b["model"])
    _assert_same(a["ema"]["module"], b["ema"]["module"])
    opt_a, opt_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert opt_a.keys() == opt_b.keys()
    for k in opt_a:
        _assert_same(opt_a[k], opt_b[k])
    assert (a["progress"]["step"], a["progress"]["epoch"], a["progress"]["position"]) == \
        (b["progress"]["step"], b["progress"]["epoch"], b["progress"]["position"])
    steps = [line.split(",")[0] for line in (tmp_path / "halves" / "metrics.csv").read_text()
             .splitlines()[1:]]
    assert steps == ["1", "2", "3", "4"]  # no duplicate rows after the resume
    evals = (tmp_path / "halves" / "eval.csv").read_text()
    again = fit(replace(halves, max_steps=4, resume="auto"))  # a finished run: nothing to do
    assert again["steps"] == 4 and again["top1_err"] == second["top1_err"]
    assert (tmp_path / "halves" / "eval.csv").read_text() == evals  # not evaluated again


def test_train_resume_refuses_a_different_model(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data")
    config = TrainConfig(model="inception_v4", data=str(data), out=str(tmp_path / "run"),
                         width=0.25, depth=0.2, image_size=75, batch_size=8, epochs=1.0,
                         workers=0, max_steps=1)
    fit(config)
    try:
        fit(replace(config, width=0.5, max_steps=2))
    except ValueError as err:
        assert "width=0.25" in str(err) and "--resume never" in str(err)
    else:
        raise AssertionError("resuming with another width must fail")


def test_train_resume_refuses_a_plain_twin_of_a_residual_run(tmp_path: Path) -> None:
    # residual=false builds the same parameters without identity paths: loading the
    # residual run's weights into it would succeed and silently train another network
    data = make_image_folder(tmp_path / "data")
    config = TrainConfig(model="inception_resnet_v2", data=str(data), out=str(tmp_path / "run"),
                         width=0.25, depth=0.2, image_size=75, batch_size=8, epochs=1.0,
                         workers=0, max_steps=1, ema_decay=0.0)
    fit(config)
    with pytest.raises(ValueError, match=r"residual=True.*--resume never"):
        fit(replace(config, residual=False, max_steps=2))
