"""Run every (arm, seed) of a plan, skipping finished runs and resuming unfinished ones."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..train import NonFiniteLoss, fit
from ..train.config import TrainConfig, to_dict
from ..train.distributed import launch_rank
from .plan import Plan

SUMMARY = "summary.json"


def run_plan(plan: Plan, out: Path, budget_minutes: float = 0.0) -> list[dict]:
    """Train what is not finished yet; return one summary per run (arm, seed, results).

    ``budget_minutes`` splits evenly over all runs as each run's training-time limit; a run
    cut short keeps its curve up to that point. A run whose loss turned non-finite counts as
    finished (it "died"); its summary records the step. A stop signal (Ctrl-C, SIGTERM)
    ends the plan after that run's checkpoint: the last result then has ``stopped ==
    "preempted"`` and the run resumes when the plan is run again.
    """
    runs = plan.runs(out)
    per_run = budget_minutes / len(runs) if budget_minutes > 0 else 0.0
    results = []
    for i, (arm, seed, config) in enumerate(runs, 1):
        run_dir = Path(config.out)
        done = run_dir / SUMMARY
        if done.is_file():
            results.append(json.loads(done.read_text()))
            continue
        if per_run:
            config = _with_minutes(config, per_run)
        print(f"[{plan.kind} {i}/{len(runs)}] {arm.label}, seed {seed} → {run_dir}", flush=True)
        summary = _train(config)
        summary.update({"arm": arm.label, "seed": seed, "out": str(run_dir)})
        if summary.get("stopped") == "preempted":  # unfinished: no summary, resumed next time
            results.append(summary)
            return results
        if _is_main():
            _write_json(done, summary)
        results.append(summary)
    return results


def _train(config) -> dict:  # noqa: ANN001 - a TrainConfig
    try:
        result = fit(config, command=["inception-v4", "experiment"])
        return {**result, "nonfinite": False, "config": to_dict(config)}
    except NonFiniteLoss as err:
        print(f"  loss became non-finite at step {err.step}: the run died", flush=True)
        return {"nonfinite": True, "nonfinite_step": err.step, "message": str(err),
                "config": to_dict(config)}


def _with_minutes(config: TrainConfig, minutes: float) -> TrainConfig:
    return dataclasses.replace(config, max_minutes=minutes)


def _is_main() -> bool:
    return launch_rank() == 0


def _write_json(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)
