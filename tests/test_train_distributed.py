"""Data parallelism: two gloo processes with global batch B equal one process with batch B."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder, rounding_bound

from inception_v4 import cli

# Sync BN, no dropout, 4 steps crossing an epoch boundary (24 images, global batch 8).
# lr 0.002 keeps the comparison meaningful: a width-0.25 network at 75 px is chaotic at higher
# rates (at lr 0.05 even reordering one batch inside one process drifts by 1e-3 in 3 steps), so
# float32 rounding differences would grow past any useful bound whatever the parallelism;
# the bound at this rate is measured beside the run (train_helpers.rounding_bound).
ARGS = ["--model", "inception_resnet_v1", "--width", "0.25", "--depth", "0.2",
        "--image-size", "75", "--batch-size", "8", "--max-steps", "4", "--epochs", "2",
        "--workers", "0", "--device", "cpu", "--log-every", "1", "--set", "drop_rate=0",
        "--set", "lr=0.002", "--set", "reference_batch=8", "--set", "ema_decay=0.9",
        "--set", "bn_momentum=0.1", "--set", "eval_max_images=4"]


def _weights(out: Path) -> dict:
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="gloo not built in")
def test_train_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data")
    one, two = tmp_path / "one", tmp_path / "two"
    def one_process(out: Path) -> None:
        assert cli.main(["train", "--data", str(data), "--out", str(out), *ARGS]) == 0

    one_process(one)
    bound = rounding_bound(one_process, one, threads=1 if torch.get_num_threads() > 1 else 2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "inception_v4", "train", "--data", str(data), "--out", str(two), "--sync-bn",
         *ARGS], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _weights(one), _weights(two)
    assert b["sampler"]["world"] == 2 and a["progress"]["step"] == b["progress"]["step"] == 4
    for k, v in a["model"].items():
        torch.testing.assert_close(b["model"][k], v, rtol=0, atol=bound, msg=k)
    moved = max((a["model"][k] - v).abs().max().item() for k, v in a["ema"]["module"].items()
                if v.is_floating_point())
    assert moved > 1e-4  # the weights did change: the comparison is not trivial
    for k, v in a["ema"]["module"].items():
        torch.testing.assert_close(b["ema"]["module"][k], v, rtol=0, atol=bound, msg=k)
