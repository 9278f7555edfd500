"""SIGKILL at random moments (also inside checkpoint writes); ``--resume auto`` continues and
the final weights equal an uninterrupted run's bit for bit. After every kill each checkpoint
on disk loads, and ``metrics.csv`` / ``eval.csv`` parse with every completed row present."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import tiny_args

HOOKED = Path(__file__).with_name("faulty_train.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def start(args: list[str], slow_write: float = 0.0) -> subprocess.Popen:
    env = {**ENV, "RELIABILITY_SLOW_WRITE": str(slow_write)}
    return subprocess.Popen([sys.executable, str(HOOKED), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def wait_for(proc: subprocess.Popen, word: str, count: int) -> bool:
    """Read the hook's lines until ``count`` lines start with ``word``; False at exit."""
    seen = 0
    for line in proc.stdout:
        seen += line.startswith(word)
        if seen >= count:
            return True
    return False


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


def check_files(out: Path) -> int:
    """Every checkpoint loads; the CSV logs parse, metrics rows are steps 1..n with n at
    least the checkpoint's step. Returns the checkpoint's step (0 without one)."""
    step = 0
    for path in sorted((out / "checkpoints").glob("*.pt")):
        state = torch.load(path, weights_only=True)  # raises on a torn file
        if path.name == "last.pt":
            step = int(state["progress"]["step"])
    for name in ("metrics.csv", "eval.csv"):
        if (out / name).is_file():
            with open(out / name, newline="") as f:
                rows = list(csv.DictReader(f))
            assert all(None not in r.values() and float(r["step"]) >= 1 for r in rows), name
            if name == "metrics.csv":
                assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))
                assert len(rows) >= step, f"{name} lost rows before the checkpoint's step"
    return step


def weights(out: Path) -> dict[str, torch.Tensor]:
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    return {**{f"model.{k}": v for k, v in state["model"].items()},
            **{f"ema.{k}": v for k, v in state["ema"]["module"].items()}}


def kill_and_resume(tmp_path: Path, data: Path, kills: int, steps: int, seed: int) -> dict:
    """Reference run and a run killed ``kills`` times; returns what happened. Every kill
    lands before the run's last step (a finished run has nothing left to kill)."""
    rng = random.Random(seed)
    epochs = steps / 3  # tiny_data: 3 steps per epoch, so the schedule ends at ``steps``
    reference = start(tiny_args(data, tmp_path / "whole", steps, epochs))
    out = tmp_path / "killed"
    args = tiny_args(data, out, steps, epochs)
    moments, steps_seen = [], []
    for i in range(kills):
        mid_write = i % 2 == 0  # alternate: inside a checkpoint write, at a random moment
        proc = start(args, slow_write=0.5 if mid_write else 0.0)
        if mid_write:
            reached = wait_for(proc, "WRITING", rng.randint(1, 2))
        else:
            reached = wait_for(proc, "SAVED", 1)  # progress first, then a random delay
            time.sleep(rng.uniform(0.0, 0.8))
        if not reached or proc.poll() is not None:
            break  # the run finished before this kill
        kill(proc)
        step = check_files(out)
        if step >= steps:
            break  # the kill landed after the last step: not a kill during training
        moments.append("checkpoint write" if mid_write else "random")
        steps_seen.append(step)
    final = start(args)
    final.stdout.read()
    assert final.wait(timeout=300) == 0
    assert reference.wait(timeout=300) == 0
    reference.stdout.close()
    final.stdout.close()
    check_files(out)
    assert not list((out / "checkpoints").glob(".*tmp*")), "temporary files left behind"
    a, b = weights(tmp_path / "whole"), weights(out)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    return {"moments": moments, "steps": steps_seen}


def _record(reliability, result: dict, run: str) -> None:  # noqa: ANN001
    writes = result["moments"].count("checkpoint write")
    random_kills = result["moments"].count("random")
    outcome = ("resumed with --resume auto; every checkpoint loadable; CSV logs complete; "
               "final model and averaged weights bit-identical to an uninterrupted run")
    reliability("fault injection", f"SIGKILL during a checkpoint write ({run})", writes,
                outcome)
    reliability("fault injection", f"SIGKILL at a random moment ({run})", random_kills,
                outcome)


def test_sigkill_and_resume_is_bitwise_identical(tmp_path: Path, tiny_data: Path,
                                                 reliability) -> None:  # noqa: ANN001
    result = kill_and_resume(tmp_path, tiny_data, kills=2, steps=4, seed=0)
    assert len(result["moments"]) == 2
    _record(reliability, result, "training, fast test")


@pytest.mark.slow
def test_sigkill_ten_times_and_resume_is_bitwise_identical(tmp_path: Path, tiny_data: Path,
                                                           reliability) -> None:  # noqa: ANN001
    result = kill_and_resume(tmp_path, tiny_data, kills=12, steps=24, seed=1)
    assert len(result["moments"]) >= 10
    _record(reliability, result, "training, slow test")
