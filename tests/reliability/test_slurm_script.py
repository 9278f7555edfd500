"""The README's SLURM batch script, run here as SLURM would run it on two nodes: ``srun`` is a
stand-in that starts its command twice on this machine (two torchrun agents, c10d rendezvous
on 127.0.0.1) and passes signals on to both, ``scontrol`` one that records the requeue.
SIGUSR1 to the script (``--signal=B:USR1``) makes every worker checkpoint and exit; the
script requeues the job; running it again (the requeued job) finishes the run, bit-identical
to an uninterrupted two-process run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO
from multinode import ENV, TRAIN, Agent, free_port, wait_until
from train_helpers import make_image_folder, weights_difference

from inception_v4.checkpoint.files import step_files

SRUN = """#!/bin/bash
# stand-in for srun on 2 nodes: the command twice, here; signals passed on to both
while [[ $1 == --* ]]; do shift; done
"$@" & a=$!
"$@" & b=$!
trap 'kill -USR1 $a $b' USR1
trap 'kill -TERM $a $b' TERM
for p in $a $b; do while kill -0 $p 2>/dev/null; do wait $p; done; done
"""
SCONTROL = """#!/bin/bash
echo "$@" >> "$SCONTROL_LOG"
"""


def readme_script() -> str:
    section = (REPO / "README.md").read_text().split("## Reliability", 1)[1].split("\n## ")[0]
    scripts = re.findall(r"```sh\n(#!/bin/bash\n.*?)```", section, flags=re.S)
    assert len(scripts) == 1, "the Reliability section should hold one batch script"
    return scripts[0]


def _fake_bin(root: Path) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", SRUN), ("scontrol", SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="no gloo")
def test_readme_slurm_script_checkpoints_requeues_and_finishes(tmp_path: Path,
                                                               reliability) -> None:  # noqa: ANN001
    script = tmp_path / "train.sbatch"
    script.write_text(readme_script())
    data, out, steps = make_image_folder(tmp_path / "data"), tmp_path / "run", 24
    train = ["--data", str(data), "--out", str(out), "--max-steps", str(steps), "--epochs", "8",
             *TRAIN]
    whole = subprocess.Popen(  # the uninterrupted reference, meanwhile
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "inception_v4", "train", *train[:2], "--out", str(tmp_path / "whole"),
         *train[4:]], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "scontrol.log"
    env = {**ENV, "PATH": f"{_fake_bin(tmp_path)}:{Path(sys.executable).parent}:"
           f"{os.environ['PATH']}", "SLURM_JOB_NUM_NODES": "2", "SLURM_JOB_ID": "4242",
           "GPUS_PER_NODE": "1", "HEAD": "127.0.0.1", "PORT": str(free_port()),
           "TRAIN": " ".join(train), "SCONTROL_LOG": str(log)}
    job = Agent(["bash", str(script)], env)
    newest = lambda: max((s for s, _ in step_files(out / "checkpoints")), default=0)  # noqa: E731
    wait_until(lambda: newest() >= 2, [job], 600)
    job.proc.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@300 does
    job.wait(600)
    text = job.text()
    assert log.read_text().split() == ["requeue", "4242"], text[-4000:]
    assert re.search(r"preempted \(SIGUSR1\) after step (\d+)", text), text[-4000:]
    stopped = newest()
    assert 2 <= stopped < steps
    again = Agent(["bash", str(script)], {**env, "PORT": str(free_port())})  # the requeued job
    again.wait(600)
    assert newest() == steps, again.text()[-4000:]
    assert whole.wait(600) == 0
    assert weights_difference(tmp_path / "whole", out) == 0.0
    reliability("multi-node", "README SLURM script: SIGUSR1 before the time limit (2 local "
                "agents)", 1, "every worker checkpoints and exits, the job requeues itself; "
                "the requeued run finishes bit-identical to an uninterrupted 2-process run")
