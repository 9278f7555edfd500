"""A failing run exits, and the ranks of a data-parallel run agree: an exception inside
training ends the process non-zero within seconds (data-loader workers and torchrun's
rendezvous included); a rank whose whole batch is unreadable does not make the others hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder

HOOKS = Path(__file__).parent / "reliability" / "faulty_train.py"
ARGS = ["--model", "inception_resnet_v1", "--width", "0.25", "--depth", "0.2",
        "--image-size", "75", "--epochs", "1", "--device", "cpu", "--log-every", "1",
        "--checkpoint-every", "0", "--set", "eval_max_images=4"]
gloo = pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="no gloo")


def _train(args: list[str], env: dict[str, str], nproc: int = 1,
           timeout: float = 300) -> subprocess.CompletedProcess:
    """faulty_train.py (``inception-v4 train`` with fault hooks), alone or under torchrun."""
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(nproc), str(HOOKS)] if nproc > 1
              else [sys.executable, str(HOOKS)])
    return subprocess.run([*launch, *ARGS, *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **env}, timeout=timeout)


def _fails_and_exits(tmp_path: Path, fail_at: str, workers: int, nproc: int = 1) -> None:
    """A run with an exception injected after step ``fail_at`` (``STEP[:RANK]``) exits
    non-zero, with that exception, within 30 s of it (the hook prints ``FAILING <rank>
    <time>`` as it raises)."""
    data = make_image_folder(tmp_path / "data", classes=2, train=8, val=2, size=40)
    proc = _train(["--data", str(data), "--out", str(tmp_path / "run"), "--batch-size", "4",
                   "--workers", str(workers)], {"RELIABILITY_FAIL_AT": fail_at}, nproc=nproc,
                  timeout=90 * nproc)
    assert proc.returncode != 0
    assert f"injected failure after step {fail_at.split(':')[0]}" in proc.stderr
    times = [float(line.split()[2]) for line in proc.stdout.splitlines()
             if line.startswith("FAILING ")]
    assert times, proc.stdout + proc.stderr[-2000:]
    assert time.time() - min(times) < 30


def test_exception_in_training_exits_with_loader_workers(tmp_path: Path) -> None:
    """An exception at step 2 with two loader workers: the interpreter used to wait at exit
    for workers that ignore SIGTERM, forever. Now the process exits non-zero at once."""
    _fails_and_exits(tmp_path, "2", workers=2)


@gloo
@pytest.mark.slow
def test_exception_on_one_rank_ends_the_torchrun_job(tmp_path: Path) -> None:
    """Rank 1 raises at step 2; rank 0, in the next collective, must not wait for it: the
    whole job exits non-zero within 30 s of the exception, workers included."""
    _fails_and_exits(tmp_path, "2:1", workers=1, nproc=2)


@gloo
@pytest.mark.slow
def test_one_ranks_unreadable_batch_skips_the_step_on_every_rank(tmp_path: Path) -> None:
    """Every image of rank 1's second batch is unreadable. Rank 1 used to skip the step
    alone, and the ranks then issued different collectives (a hang until the 30-minute
    timeout). Now both skip it: the first epoch has 3 steps of its 4 batches on both ranks,
    and the run ends with both at step 4 (``--epochs 1``: 4 steps)."""
    data = make_image_folder(tmp_path / "data", classes=2, train=8, val=2, size=40)
    proc = _train(["--data", str(data), "--out", str(tmp_path / "run"), "--batch-size", "4",
                   "--workers", "0"], {"RELIABILITY_UNREADABLE_AT": "2:1"}, nproc=2,
                  timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    stopped = sorted(line for line in lines if line.startswith("STOPPED"))
    assert stopped == ["STOPPED 0 done 4", "STOPPED 1 done 4"], proc.stdout
    epoch_end = lines.index("epoch 1 done: 2 unreadable training images skipped")
    for rank in (0, 1):
        assert lines.index(f"STEP {rank} 3") < epoch_end < lines.index(f"STEP {rank} 4")
