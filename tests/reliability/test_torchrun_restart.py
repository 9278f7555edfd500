"""Under ``torchrun --max-restarts 1``, SIGKILL one worker: the group restarts, resumes from
the last checkpoint (``--resume auto``) and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from conftest import tiny_args

from inception_v4.train import distributed

HOOKED = Path(__file__).with_name("faulty_train.py")


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="gloo not built in")
def test_killed_worker_restarts_group_and_resumes(tmp_path: Path, tiny_data: Path,
                                                  reliability) -> None:  # noqa: ANN001
    reliability("fault injection", "SIGKILL one of 2 torchrun workers (--max-restarts 1)", 1,
                "torchrun restarts the group, which resumes from last.pt and completes")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", "--max-restarts", "1", str(HOOKED), *tiny_args(tiny_data, out, 6)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    workers, killed, lines = {}, None, []
    for line in proc.stdout:
        lines.append(line)
        words = line.split()
        if words[:1] == ["WORKER"]:
            workers[(int(words[2]), int(words[3]))] = int(words[1])
        if killed is None and words[:2] == ["SAVED", "2"] and (1, 0) in workers:
            killed = workers[(1, 0)]
            os.kill(killed, signal.SIGKILL)
    assert proc.wait(timeout=600) == 0, "".join(lines[-40:])
    text = "".join(lines)
    assert killed is not None and (0, 1) in workers and (1, 1) in workers  # restarted once
    assert "resuming from" in text
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == 6 and state["sampler"]["world"] == 2


def test_restarted_group_ignores_the_previous_attempts_store(monkeypatch, reliability) -> None:  # noqa: ANN001
    """The root cause of the flaky restart: torchrun's agent store still holds what the
    previous attempt wrote. A stale announcement (a dead port) is retried until rank 0 of
    this attempt announces its own store; both ranks then share that store."""
    reliability("fault injection", "stale store keys of a previous torchrun attempt", 1,
                "rank 1 skips the dead store and joins rank 0's fresh one")
    agent = dist.TCPStore("127.0.0.1", 0, 2, is_master=True, wait_for_workers=False)
    dead = dist.TCPStore("127.0.0.1", 0, 1, is_master=True, wait_for_workers=False)
    dead_port = dead.port
    del dead  # the previous attempt's rank-0 store, now gone
    agent.set(distributed._GROUP_STORE_KEY, str(dead_port))
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(agent.port))
    joined: dict[str, dist.Store] = {}
    worker = threading.Thread(target=lambda: joined.update(r1=distributed.attempt_store(1, 2)))
    worker.start()
    time.sleep(0.5)  # rank 1 has read the stale port by now
    rank0 = distributed.attempt_store(0, 2)
    worker.join(timeout=60)
    assert rank0.port != dead_port and int(agent.get(distributed._GROUP_STORE_KEY)) == rank0.port
    joined["r1"].set("hello", "from rank 1")
    assert rank0.get("hello") == b"from rank 1"
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE")
    assert distributed.attempt_store(0, 2) is None  # plain env:// outside torchrun
