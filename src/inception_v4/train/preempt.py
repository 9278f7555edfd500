"""Preemption: SIGTERM (a scheduler taking the machine back), SIGUSR1 (SLURM's warning
before the time limit, ``--signal``) or SIGINT (Ctrl-C) asks the run to stop at the next step
boundary.

The handler only records the signal; the training loop finishes the step in flight, every
rank agrees on the stop (``distributed.any_flag``, so a signal reaching one rank stops all at
the same step), rank 0 writes a checkpoint at that step and the run returns normally
(``inception-v4 train`` exits 0 naming the checkpoint; 130 after Ctrl-C, as shells expect).
Further SIGTERM/SIGUSR1 signals while it does so are counted and otherwise ignored, so they
cannot interrupt the write; a second Ctrl-C is the user insisting, and aborts at once
(``KeyboardInterrupt``; the newest complete checkpoint stays, atomic writes leave no torn
file). Data-loader workers ignore
both signals (:func:`ignore_in_worker`), so a signal sent to the whole process group, as
torchrun and SLURM send it, does not kill them under the run.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
INTERRUPTED = 128 + signal.SIGINT  # the exit status of a process stopped by Ctrl-C (130)


class StopRequest:
    """The first stop signal received (None: none yet) and how many arrived."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.count = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if signum == signal.SIGINT and self.signal == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: abort now
        if self.signal is None:
            self.signal = signum
            if signum == signal.SIGINT:
                print("\nCtrl-C: stopping after this step with a checkpoint (Ctrl-C again to "
                      "abort at once)", file=sys.stderr, flush=True)

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else "a stop signal on another rank"


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """Record SIGTERM, SIGUSR1 and SIGINT in a :class:`StopRequest` while the block runs (the
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
