"""Two torchrun agents on one machine as two nodes (c10d rendezvous on 127.0.0.1, gloo): the
helpers of the multi-node tests. Each agent runs in its own session (so that killing the
session is losing the node) and its output is read by a thread into a list of lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

HOOKED = Path(__file__).with_name("faulty_train.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# The run of the multi-node tests: as tests/reliability/test_world_size.py (no dropout, sync
# BN, lr 0.002) so that its final weights can be compared with a one-process run, to within
# what rounding does (train_helpers.rounding_bound).
TRAIN = ["--model", "inception_resnet_v1", "--width", "0.25", "--depth", "0.2",
         "--image-size", "75", "--batch-size", "8", "--workers", "0", "--device", "cpu",
         "--log-every", "1", "--checkpoint-every", "1", "--sync-bn", "--set", "drop_rate=0",
         "--set", "lr=0.002", "--set", "reference_batch=8", "--set", "ema_decay=0.9",
         "--set", "bn_momentum=0.1", "--set", "eval_max_images=4"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """One torchrun agent (a node) and the lines it and its worker printed."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env or ENV, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def words(self) -> list[list[str]]:
        return [line.split() for line in list(self.lines)]

    def workers(self) -> list[int]:
        """Pids of the workers this agent started, oldest first."""
        return [int(w[1]) for w in self.words() if w[:1] == ["WORKER"]]

    def lose_node(self) -> None:
        """SIGKILL the agent and its workers (their sessions) at once: a node gone."""
        for pid in self.workers():
            _kill_group(pid)
        _kill_group(self.proc.pid)
        self.proc.wait(timeout=60)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return code

    def text(self) -> str:
        return "".join(self.lines)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def torchrun_node(nnodes: str, port: int, host: bool, train_args: list[str],
                  max_restarts: int = 2) -> list[str]:
    """The command of one node's agent: one worker, c10d rendezvous at 127.0.0.1:port (the
    ``host`` node holds the rendezvous store), the hooked trainer."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", nnodes,
            "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
            f"127.0.0.1:{port}", "--rdzv-id", "test", "--rdzv-conf",
            f"is_host={int(host)},last_call_timeout=10", "--max-restarts", str(max_restarts),
            "--monitor-interval", "0.5", str(HOOKED), *train_args]


def wait_until(condition: Callable[[], bool], agents: list[Agent], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or any(a.proc.poll() is not None for a in agents):
            tails = "\n---\n".join(a.text()[-3000:] for a in agents)
            raise AssertionError(f"condition not reached; the agents said:\n{tails}")
        time.sleep(0.1)


def saved_step(agents: list[Agent]) -> int:
    """The newest checkpoint step any worker reported (``SAVED <step>``)."""
    steps = [int(w[1]) for a in agents for w in a.words() if w[:1] == ["SAVED"]]
    return max(steps, default=0)
