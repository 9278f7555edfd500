"""Another number of processes on resuming: the data order is defined in global batches, so a
run resumed on 1, 2 or 4 processes sees the global batches of the uninterrupted run; with
``--sync-bn`` its final weights differ from a one-process run's by no more than rounding does
(``train_helpers.rounding_bound``: the order of summation is the only difference). A changed
global batch size is refused unless ``allow_batch_change``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder, rounding_bound, weights_difference

from inception_v4 import cli
from inception_v4.train.loaders import EpochSampler

# As tests/test_train_distributed.py: no dropout (its masks are drawn per rank), lr 0.002 (at
# higher rates float32 rounding grows past any useful bound), 24 images, global
# batch 8: 3 steps per epoch.
ARGS = ["--model", "inception_resnet_v1", "--width", "0.25", "--depth", "0.2",
        "--image-size", "75", "--batch-size", "8", "--epochs", "2", "--workers", "0",
        "--device", "cpu", "--log-every", "1", "--checkpoint-every", "1", "--set",
        "drop_rate=0", "--set", "lr=0.002", "--set", "reference_batch=8", "--set",
        "ema_decay=0.9", "--set", "bn_momentum=0.1", "--set", "eval_max_images=4"]
gloo = pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="no gloo")


def _global_batches(n: int, batch: int, world: int, epoch: int, start: int = 0) -> list:
    """Each step's global batch as the ranks' shares put back together, in rank order."""
    shares = []
    for rank in range(world):
        sampler = EpochSampler(n, batch // world, rank, world, seed=5)
        sampler.set_epoch(epoch, start)
        items = list(sampler)
        assert len(items) == len(sampler)
        shares.append([items[i:i + batch // world] for i in range(0, len(items),
                                                                   batch // world)])
    return [[item for share in step for item in share] for step in zip(*shares, strict=True)]


def test_global_batches_do_not_depend_on_the_number_of_processes(reliability) -> None:  # noqa: ANN001
    for n in (24, 29, 30):  # 30 images: DistributedSampler would pad 4 ranks to 32
        one = _global_batches(n, 8, 1, epoch=2)
        assert len(one) == n // 8
        for world in (2, 4):
            many = _global_batches(n, 8, world, epoch=2)
            assert [sorted(b) for b in many] == [sorted(b) for b in one], (n, world)
            resumed = _global_batches(n, 8, world, epoch=2, start=1)  # mid-epoch
            assert [sorted(b) for b in resumed] == [sorted(b) for b in one[1:]]
    reliability("elastic training", "resume mid-epoch on 1, 2 or 4 processes (sampler)", 6,
                "the same global batches, each image with the same augmentation seed")


def _torchrun(out: Path, data: Path, steps: int, nproc: int = 2) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         str(nproc), "-m", "inception_v4", "train", "--data", str(data), "--out", str(out),
         "--sync-bn", "--max-steps", str(steps), *ARGS],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _one_process(out: Path, data: Path, steps: int, capsys: pytest.CaptureFixture) -> str:
    capsys.readouterr()
    assert cli.main(["train", "--data", str(data), "--out", str(out), "--sync-bn",
                     "--max-steps", str(steps), *ARGS]) == 0
    return capsys.readouterr().out


def _elastic(tmp_path: Path, capsys: pytest.CaptureFixture,
             stages: list[tuple[int, int]]) -> tuple[float, str]:
    """Train one run folder in stages of (processes, until step), then compare it with an
    uninterrupted 1-process run to the same step; returns (largest difference, the last
    1-process stage's output)."""
    data = make_image_folder(tmp_path / "data")
    steps = stages[-1][1]
    _one_process(tmp_path / "one", data, steps, capsys)
    bound = rounding_bound(lambda out: _one_process(out, data, steps, capsys), tmp_path / "one",
                           threads=2)  # the tests run on one thread (conftest)
    out, text = tmp_path / "elastic", ""
    for processes, until in stages:
        if processes == 1:
            text = _one_process(out, data, until, capsys)
        else:
            _torchrun(out, data, until, processes)
    worst = weights_difference(tmp_path / "one", out)
    assert worst <= bound, (worst, bound)
    return worst, text


@gloo
def test_two_processes_then_one_match_an_uninterrupted_one_process_run(
        tmp_path: Path, capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    _, text = _elastic(tmp_path, capsys, [(2, 2), (1, 4)])  # 1 process crosses the epoch end
    assert "1 processes instead of 2: the same global batches" in text
    reliability("elastic training", "resume on 1 process from a 2-process checkpoint "
                "(--sync-bn, fast test)", 1, "final weights as close to a 1-process run as "
                "rounding allows")


@pytest.mark.slow
@gloo
def test_two_then_one_then_two_processes_match_one_process(
        tmp_path: Path, capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    worst, _ = _elastic(tmp_path, capsys, [(2, 2), (1, 4), (2, 6)])
    reliability("elastic training", "2 -> 1 -> 2 processes (--sync-bn, slow test)", 1,
                f"final weights as close to a 1-process run as rounding allows (largest "
                f"difference {worst:.1e})")


def test_changed_global_batch_is_refused_unless_asked_for(
        tmp_path: Path, capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "run"
    _one_process(out, data, 2, capsys)  # 16 of the epoch's 24 images at batch 8
    args = ["train", "--data", str(data), "--out", str(out), *ARGS, "--batch-size", "4",
            "--max-steps", "5"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "batch_size=8" in err and "allow_batch_change=true" in err
    assert cli.main([*args, "--set", "allow_batch_change=true"]) == 0
    text = capsys.readouterr().out
    assert "at step 4, epoch 0 (changed: " in text and "batch_size" in text  # 16 / 4
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert (state["progress"]["step"], state["progress"]["epoch"],
            state["progress"]["position"]) == (5, 0, 5)
    reliability("elastic training", "resume with another global batch size", 2,
                "refused, naming the batch size and allow_batch_change; with it, continues "
                "at the same image of the epoch")
