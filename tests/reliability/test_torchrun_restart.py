"""Under ``torchrun --max-restarts 1``, SIGKILL one worker: the group restarts, resumes from
the last checkpoint (``--resume auto``) and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_args

HOOKED = Path(__file__).with_name("faulty_train.py")


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "flaky, open: the restarted group's gloo connectFullMesh is sometimes refused (stale "
    "peer address) on this torch; when it connects, the resume completes"))
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
