"""Preemption: SIGTERM (or SIGUSR1) at a random moment stops the run after the step in
flight with a checkpoint at that step and exit 0; a second signal during that write harms
nothing; ``--resume auto`` then ends bit-identical to an uninterrupted run. Under torchrun a
signal reaching one rank stops every rank at the same step."""

from __future__ import annotations

import importlib
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
from multinode import TRAIN, Agent, wait_until
from test_kill import ENV, HOOKED, check_files, weights
from train_helpers import make_image_folder, rounding_bound, weights_difference

from inception_v4.checkpoint import files
from inception_v4.cli import main

fit_module = importlib.import_module("inception_v4.train.fit")
OUTCOME = ("exit 0 naming the checkpoint, written at the step boundary (no completed step "
           "lost); every file loadable; resumed with --resume auto; final model and averaged "
           "weights bit-identical to an uninterrupted run")


def _args(data: Path, out: Path, steps: int) -> list[str]:
    """The tiny run, checkpointing only at epoch ends: what a stop signal saves is its own."""
    return [*tiny_args(data, out, steps, steps / 3), "--checkpoint-every", "0"]


def _same(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_sigterm_in_process_stops_at_the_step_and_resumes_bitwise(
        tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture, reliability) -> None:  # noqa: ANN001
    """The signal is real (``os.kill`` of this process) and comes during step 3, the last of
    an epoch (the trickiest moment: that epoch's evaluation is skipped to stop quickly and
    done on resuming); a second one comes in the middle of the checkpoint write it causes."""
    steps, at = 5, 3
    before = signal.getsignal(signal.SIGTERM)
    assert main(["train", *_args(tiny_data, tmp_path / "whole", steps)]) == 0
    real_step, real_save = fit_module.train_step, files.save_atomic
    seen = {"writes": 0, "signalled": False}

    def step(run, images, labels):  # noqa: ANN001, ANN202
        if run.step + 1 == at:
            seen["signalled"] = True
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while this step runs
        return real_step(run, images, labels)

    def save(obj, path):  # noqa: ANN001, ANN202
        if seen["signalled"]:  # the stop checkpoint: a second signal during its write
            seen["writes"] += 1
            os.kill(os.getpid(), signal.SIGTERM)
        return real_save(obj, path)

    monkeypatch.setattr(fit_module, "train_step", step)
    monkeypatch.setattr(files, "save_atomic", save)
    out = tmp_path / "stopped"
    capsys.readouterr()
    assert main(["train", *_args(tiny_data, out, steps)]) == 0
    text = capsys.readouterr().out
    expected = out / "checkpoints" / f"step-{at:08d}.pt"
    assert f"preempted (SIGTERM) after step {at}; checkpoint {expected} written" in text
    assert seen["writes"] == 1 and check_files(out) == at
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are restored
    assert main(["train", *_args(tiny_data, out, steps)]) == 0
    _same(tmp_path / "whole", out)
    assert _eval_steps(out) == _eval_steps(tmp_path / "whole") == ["3", "5"]
    reliability("preemption", "SIGTERM during a step, a second during the checkpoint write "
                "(in-process, fast test)", 1, OUTCOME)


def _eval_steps(out: Path) -> list[str]:
    return [row.split(",")[1] for row in (out / "eval.csv").read_text().splitlines()[1:]]


def _start(args: list[str], slow_write: float = 0.0) -> subprocess.Popen:
    env = {**ENV, "RELIABILITY_SLOW_WRITE": str(slow_write)}
    return subprocess.Popen([sys.executable, str(HOOKED), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _signal_once(proc: subprocess.Popen, rng: random.Random, sig: int, twice: bool) -> dict:
    """Wait for a random number of steps and a random delay, send ``sig`` (and, with
    ``twice``, another when the checkpoint write is half-way); read to the end."""
    lines, sent, steps_seen = [], False, 0
    target = rng.randint(1, 3)
    for line in proc.stdout:
        lines.append(line)
        words = line.split()
        if words[:1] == ["STEP"]:
            steps_seen = int(words[2])
            if not sent and (target := target - 1) == 0:
                time.sleep(rng.uniform(0.0, 0.4))
                proc.send_signal(sig)
                sent = True
        if twice and sent and words[:1] == ["WRITING"]:
            proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=300)
    return {"code": code, "sent": sent, "last_step": steps_seen, "text": "".join(lines)}


@pytest.mark.slow
def test_sigterm_ten_times_from_outside_and_resume_is_bitwise(
        tmp_path: Path, tiny_data: Path, reliability) -> None:  # noqa: ANN001
    steps, rng = 36, random.Random(3)
    reference = _start(_args(tiny_data, tmp_path / "whole", steps))
    out, counts = tmp_path / "stopped", {"SIGTERM": 0, "SIGUSR1": 0, "twice": 0}
    for i in range(14):
        if (check_files(out) if out.is_dir() else 0) > steps - 4:
            break  # near the end: a signal could come after the run finished
        sig = signal.SIGUSR1 if i % 4 == 3 else signal.SIGTERM
        twice = i % 3 == 1
        result = _signal_once(_start(_args(tiny_data, out, steps), 0.3 if twice else 0.0),
                              rng, sig, twice)
        assert result["code"] == 0, result["text"][-3000:]
        if not result["sent"] or "preempted" not in result["text"]:
            break  # the run ended before the signal
        step = check_files(out)
        assert step == result["last_step"], "a completed step was lost"
        assert f"preempted ({signal.Signals(sig).name}) after step {step}" in result["text"]
        counts[signal.Signals(sig).name] += 1
        counts["twice"] += twice
    final = _start(_args(tiny_data, out, steps))
    assert final.wait(timeout=300) == 0 and reference.wait(timeout=300) == 0
    for proc in (final, reference):
        proc.stdout.close()
    check_files(out)
    _same(tmp_path / "whole", out)
    assert counts["SIGTERM"] + counts["SIGUSR1"] >= 10
    for name in ("SIGTERM", "SIGUSR1"):
        reliability("preemption", f"{name} at a random moment (subprocess, slow test)",
                    counts[name], OUTCOME)
    reliability("preemption", "second SIGTERM while the stop checkpoint is written (slow "
                "test)", counts["twice"], "the write completes; the checkpoint loads")


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="no gloo")
def test_sigterm_to_one_torchrun_rank_stops_every_rank_at_the_same_step(
        tmp_path: Path, reliability) -> None:  # noqa: ANN001
    data = make_image_folder(tmp_path / "data")
    args = ["--data", str(data), "--max-steps", "6", "--epochs", "2", *TRAIN,
            "--checkpoint-every", "0"]
    def one_process(out: Path) -> None:
        assert main(["train", "--out", str(out), *args]) == 0

    one_process(tmp_path / "one")  # on one thread (conftest)
    bound = rounding_bound(one_process, tmp_path / "one", threads=2)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", str(HOOKED), "--out", str(out), *args]
    group = Agent(command)
    rank1 = lambda: [int(w[1]) for w in group.words() if w[:1] == ["WORKER"] and w[2] == "1"]  # noqa: E731
    wait_until(lambda: rank1() and ["STEP", "1", "2"] in group.words(), [group], 600)
    os.kill(rank1()[0], signal.SIGTERM)  # rank 1 only: rank 0 hears of it at the step's end
    assert group.wait(600) == 0, group.text()[-3000:]
    stops = sorted(tuple(w[1:]) for w in group.words() if w[:1] == ["STOPPED"])
    assert [s[1] for s in stops] == ["preempted", "preempted"], stops
    step = int(stops[0][2])
    assert stops[1][2] == str(step) and check_files(out) == step and step < 6
    assert "a stop signal on another rank: stopped after step" in group.text()
    again = Agent(command)
    assert again.wait(600) == 0, again.text()[-3000:]
    worst = weights_difference(tmp_path / "one", out)
    assert worst <= bound, (worst, bound)
    reliability("preemption", "SIGTERM to one of 2 torchrun ranks", 1,
                f"every rank stops at the same step, exit 0, checkpoint there; resumed, "
                f"weights within rounding of a 1-process run ({worst:.1e})")


@pytest.mark.slow
def test_sigterm_to_the_process_group_spares_the_loader_workers(tmp_path: Path,
                                                                tiny_data: Path,
                                                                reliability) -> None:  # noqa: ANN001
    """torchrun and SLURM signal the whole process group: the data-loader workers get SIGTERM
    too. They inherit the handler (fork), so they live on until the run has stopped."""
    out = tmp_path / "run"
    args = [*_args(tiny_data, out, 12), "--workers", "2"]
    proc = subprocess.Popen([sys.executable, str(HOOKED), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV,
                            start_new_session=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("STEP 0 2"):
            os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=300) == 0, "".join(lines[-40:])
    text = "".join(lines)
    assert "preempted (SIGTERM)" in text and "DataLoader worker" not in text
    step = check_files(out)
    assert 2 <= step < 12
    reliability("preemption", "SIGTERM to the whole process group (2 data-loader workers)", 1,
                "the workers live on; the run checkpoints at the step boundary and exits 0")


@pytest.mark.slow
def test_ctrl_c_to_a_training_subprocess_checkpoints_exits_130_and_resumes_bitwise(
        tmp_path: Path, tiny_data: Path, reliability) -> None:  # noqa: ANN001
    """Ctrl-C reaches the whole foreground process group: SIGINT to the group after step 1
    stops the run at a step boundary with a checkpoint, no traceback, exit status 130;
    the same command (``--resume auto``) then ends bit-identical to an uninterrupted run."""
    steps = 3
    assert main(["train", *_args(tiny_data, tmp_path / "whole", steps)]) == 0
    out = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, str(HOOKED), *_args(tiny_data, out, steps)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV, start_new_session=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("STEP 0 1"):
            os.killpg(proc.pid, signal.SIGINT)
    text = "".join(lines)
    assert proc.wait(timeout=300) == 130, text[-3000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    step = check_files(out)
    assert 1 <= step < steps and f"preempted (SIGINT) after step {step}" in text
    assert "--resume auto" in text
    assert main(["train", *_args(tiny_data, out, steps)]) == 0
    _same(tmp_path / "whole", out)
    reliability("preemption", "Ctrl-C (SIGINT to the process group, subprocess)", 1,
                "exit 130 naming the checkpoint; resumed bit-identical")


def test_ctrl_c_in_process_stops_at_the_step_with_exit_130(
        tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """The fast twin of the subprocess test: a real SIGINT to this process during step 1 of
    2 ends ``inception-v4 train`` with status 130, a checkpoint at step 1 and the resume hint;
    the SIGINT handler in place before comes back."""
    real_step, before = fit_module.train_step, signal.getsignal(signal.SIGINT)

    def step(run, images, labels):  # noqa: ANN001, ANN202
        if run.step == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(run, images, labels)

    monkeypatch.setattr(fit_module, "train_step", step)
    out = tmp_path / "run"
    assert main(["train", *_args(tiny_data, out, 2)]) == 130
    text = capsys.readouterr().out
    assert check_files(out) == 1 and "preempted (SIGINT) after step 1" in text
    assert signal.getsignal(signal.SIGINT) == before


def test_a_second_ctrl_c_aborts_at_once() -> None:
    """The first SIGINT only asks for a stop at the step boundary; the second raises
    KeyboardInterrupt there and then. SIGTERM repeated never does (it must not tear the
    stop checkpoint's write)."""
    from inception_v4.train.preempt import StopRequest

    request = StopRequest()
    request.handle(signal.SIGINT, None)
    assert request.signal == signal.SIGINT and request.name == "SIGINT"
    with pytest.raises(KeyboardInterrupt):
        request.handle(signal.SIGINT, None)
    patient = StopRequest()
    for _ in range(3):
        patient.handle(signal.SIGTERM, None)
    assert patient.signal == signal.SIGTERM and patient.count == 3
