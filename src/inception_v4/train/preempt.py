"""Preemption: SIGTERM (a scheduler taking the machine back) or SIGUSR1 (SLURM's warning
before the time limit, ``--signal``) asks the run to stop at the next step boundary.

The handler only records the signal; the training loop finishes the step in flight, every
rank agrees on the stop (``distributed.any_flag``, so a signal reaching one rank stops all at
the same step), rank 0 writes a checkpoint at that step and the run returns normally
(``inception-v4 train`` exits 0 naming the checkpoint). Further signals while it does so are
counted and otherwise ignored, so they cannot interrupt the write. Data-loader workers ignore
both signals (:func:`ignore_in_worker`), so a signal sent to the whole process group, as
torchrun and SLURM send it, does not kill them under the run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopRequest:
    """The first stop signal received (None: none yet) and how many arrived."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.count = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.signal is None:
            self.signal = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else "a stop signal on another rank"


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """Record SIGTERM and SIGUSR1 in a :class:`StopRequest` while the block runs (the
    previous handlers come back afterwards). Outside the main thread, where Python cannot
    install handlers, nothing is caught."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request.handle) for s in STOP_SIGNALS}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def ignore_in_worker(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: the worker ignores the stop signals (the main process
    decides when to stop, and shuts its workers down then)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
