"""``benchmarks/gpu_smoke.sh``: the first GPU run's script. Its plan covers every CUDA path
the issue lists; its CPU dry run (tiny sizes) passes end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_smoke.sh"
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _smoke(*args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHON": sys.executable,
                                                "OMP_NUM_THREADS": "1", **(env or {})})


def _steps(proc: subprocess.CompletedProcess) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(": ", 1) for line in proc.stdout.splitlines())


@needs_bash
def test_gpu_smoke_plan_covers_every_cuda_path(tmp_path: Path) -> None:
    steps = _steps(_smoke("--list", "--out", str(tmp_path), env={"SMOKE_GPUS": "2"}))
    assert list(steps) == [
        "normalize_exact", "train_bf16", "resume_bf16", "resume_bf16_resumed", "resume_exact",
        "resume_exact_compare", "train_fp16", "compile", "compile_recompute", "eval_bf16",
        "eval_144", "bench_infer", "bench_infer_bf16", "bench_train", "speed_1gpu", "ddp",
        "ddp_resume", "speed_ddp", "figures"]
    assert "--amp bf16 --channels-last" in steps["train_bf16"]
    assert "--amp fp16" in steps["train_fp16"] and "optimizer=rmsprop_tf" in steps["train_fp16"]
    assert "--compile --grad-checkpointing" in steps["compile_recompute"]
    assert "--dtype bfloat16" in steps["eval_bf16"] and "--crops 144" in steps["eval_144"]
    for name in ("bench_infer", "bench_infer_bf16", "bench_train"):
        assert "--device cuda" in steps[name] and "--compare timm" in steps[name]
    # ours against timm at bf16, channels-last (ours always; timm's -cl rows), compiled
    assert "--dtype bfloat16 --compile" in steps["bench_infer_bf16"]
    assert "--mode train --compile" in steps["bench_train"]  # float32 and bf16 autocast rows
    for name in ("speed_1gpu", "speed_ddp"):
        assert "--amp bf16 --channels-last --compile" in steps[name]
    assert "--nproc-per-node 2" in steps["ddp"] and "--sync-bn" in steps["ddp_resume"]
    assert "--nproc-per-node 2" in steps["speed_ddp"] and "gpu_figures.py" in steps["figures"]
    one_gpu = _steps(_smoke("--list", "--out", str(tmp_path), env={"SMOKE_GPUS": "1"}))
    assert "ddp" not in one_gpu and "speed_ddp" not in one_gpu and "compile" in one_gpu
    assert _smoke("--bogus").returncode == 2


@needs_bash
@pytest.mark.slow
def test_gpu_smoke_cpu_dry_run_passes(tmp_path: Path) -> None:
    """The whole script at tiny sizes on the CPU (compile and DDP steps off): every step,
    including the bit-exact comparison of a resumed run with an uninterrupted one."""
    proc = _smoke("--device", "cpu", "--out", str(tmp_path / "smoke"), timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "ok resume_exact_compare" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"all steps passed; log: {tmp_path}/smoke/smoke.log")
    assert (tmp_path / "smoke" / "bench_train.json").is_file()
    figures = (tmp_path / "smoke" / "figures.md").read_text()
    assert "| bench_train | train | ours-amp | timm-cl-amp |" in figures
    assert "| bench_infer_bf16 | infer | ours | timm" in figures
    assert "| speed_1gpu |" in figures
