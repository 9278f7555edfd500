"""``python faulty_train.py ARGS``: ``inception-v4 train ARGS`` with fault hooks for the
kill tests. It prints ``WORKER <pid> <rank> <restart count>`` first, ``STEP <rank> <step>``
after every training step, ``SAVED <step>`` after every checkpoint, ``STOPPED <rank> <why>
<step>`` when training stops and, with ``RELIABILITY_SLOW_WRITE=SECONDS``, ``WRITING <step>``
half-way through each checkpoint write, then pauses there so that a SIGKILL (or a second
SIGTERM) lands inside the write. ``RELIABILITY_FAIL_AT=STEP[:RANK]`` raises after that step
(on that rank, or every rank), printing ``FAILING <rank> <unix time>``;
``RELIABILITY_UNREADABLE_AT=STEP:RANK`` makes every image of
that rank's batch for that step unreadable (``--workers 0``)."""

from __future__ import annotations

import importlib
import io
import os
import sys
import time

import torch

from inception_v4 import checkpoint
from inception_v4.cli import main

fit_module = importlib.import_module("inception_v4.train.fit")
run_module = importlib.import_module("inception_v4.train.run")
_real_save, _real_save_run = torch.save, checkpoint.save_run
_real_step, _real_steps = fit_module.train_step, fit_module.train_steps
_real_loader = run_module.train_loader
RANK = os.environ.get("RANK", "0")


def say(line: str) -> None:
    """One hook line in one write: torchrun's workers share the reader's pipe, and a line
    printed in two writes can interleave with another worker's."""
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def _slow_save(obj, f, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    pause = float(os.environ.get("RELIABILITY_SLOW_WRITE", "0"))
    if not pause or isinstance(f, (str, os.PathLike)):
        return _real_save(obj, f, *args, **kwargs)
    buffer = io.BytesIO()
    _real_save(obj, buffer, *args, **kwargs)
    data = buffer.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    say(f"WRITING {obj['progress']['step']}")
    time.sleep(pause)
    f.write(data[len(data) // 2:])
    return None


def _save_run(run, best=False):  # noqa: ANN001, ANN202
    path = _real_save_run(run, best)
    say(f"SAVED {run.step}")
    return path


def _at(variable: str) -> tuple[int, str | None]:
    """``STEP[:RANK]`` from the environment: (step, rank or None); (0, None) when unset."""
    step, _, rank = os.environ.get(variable, "0").partition(":")
    return int(step), rank or None


def _train_step(run, images, labels):  # noqa: ANN001, ANN202
    loss = _real_step(run, images, labels)
    say(f"STEP {RANK} {run.step}")
    step, rank = _at("RELIABILITY_FAIL_AT")
    if run.step == step and rank in (None, RANK):
        say(f"FAILING {RANK} {time.time()}")
        raise RuntimeError(f"injected failure after step {step} on rank {RANK}")
    return loss


def _train_loader(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    loader = _real_loader(*args, **kwargs)
    step, rank = _at("RELIABILITY_UNREADABLE_AT")
    if step and rank == RANK:
        collate, calls = loader.collate_fn, []

        def unreadable_once(batch):  # noqa: ANN001, ANN202
            calls.append(1)
            return collate([None] * len(batch) if len(calls) == step else batch)
        loader.collate_fn = unreadable_once
    return loader


def _train_steps(run):  # noqa: ANN001, ANN202
    why = _real_steps(run)
    say(f"STOPPED {RANK} {why} {run.step}")
    return why


torch.save = _slow_save
checkpoint.save_run = _save_run
fit_module.train_step = _train_step
fit_module.train_steps = _train_steps
run_module.train_loader = _train_loader

if __name__ == "__main__":
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    say(f"WORKER {os.getpid()} {RANK} {restart}")
    sys.exit(main(["train", *sys.argv[1:]]))
