"""``python faulty_train.py ARGS``: ``inception-v4 train ARGS`` with fault hooks for the
kill tests. It prints ``WORKER <pid> <rank> <restart count>`` first, ``SAVED <step>`` after
every checkpoint and, with ``RELIABILITY_SLOW_WRITE=SECONDS``, ``WRITING <step>`` half-way
through each checkpoint write, then pauses there so that a SIGKILL lands inside the write."""

from __future__ import annotations

import io
import os
import sys
import time

import torch

from inception_v4.cli import main
from inception_v4.train import run_state as checkpoint

_real_save, _real_save_run = torch.save, checkpoint.save_run


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


torch.save = _slow_save
checkpoint.save_run = _save_run

if __name__ == "__main__":
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    say(f"WORKER {os.getpid()} {os.environ.get('RANK', '0')} {restart}")
    sys.exit(main(["train", *sys.argv[1:]]))
