"""``inception-v4 experiment residual|scaling``: plan, run (resumable), report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .plan import Plan, residual_plan, scaling_plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", description="reproduce the paper's claims: residual | scaling")
    kinds = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    r = kinds.add_parser("residual", help="residual vs plain training speed (Figs. 21-26)")
    _common(r)
    r.add_argument("--targets", default=None,
                   help="top-1 error targets, comma-separated (default: 0.8,0.7,0.6,0.5 small; "
                        "0.6,0.5,0.4,0.3 full)")
    s = kinds.add_parser("scaling", help="residual scaling vs dying of wide networks (§3.3)")
    _common(s)
    s.add_argument("--width", type=float, default=None,
                   help="width multiplier (default: 0.5 small, 1.0 full; 8×8 blocks > 1000)")
    s.add_argument("--scales", default="1.0,0.3,0.2,0.1", help="residual scales to compare")
    s.add_argument("--lr-factor", type=float, default=4.0,
                   help="the higher learning rate, as a multiple of the recipe's")
    p.set_defaults(func=run_experiment)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="DATA as for `inception-v4 train`")
    p.add_argument("--out", required=True, type=Path, help="experiment folder")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--scale", choices=("small", "full"), default="small")
    p.add_argument("--epochs", type=float, default=None, help="epochs per run")
    p.add_argument("--budget-minutes", type=float, default=0.0,
                   help="training-time budget for the whole experiment, split over runs")
    p.add_argument("--dry-run", action="store_true", help="print the plan, costs and time")


def build_plan(args: argparse.Namespace) -> Plan:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.experiment == "residual":
        return residual_plan(args.data, args.scale, args.seeds, args.epochs)
    scales = tuple(float(x) for x in args.scales.split(","))
    return scaling_plan(args.data, args.scale, args.seeds, args.width, scales,
                        args.lr_factor, args.epochs)


def targets_of(args: argparse.Namespace) -> tuple[float, ...]:
    default = "0.8,0.7,0.6,0.5" if args.scale == "small" else "0.6,0.5,0.4,0.3"
    return tuple(float(x) for x in (args.targets or default).split(","))


def run_experiment(args: argparse.Namespace) -> int:
    from .dryrun import describe

    plan = build_plan(args)
    if args.dry_run:
        print(describe(plan, args.out, args.budget_minutes))
        return 0
    from ..train.distributed import launch_rank
    from .curves import load_curve
    from .plan_runner import run_plan
    from .report import residual_report, scaling_report

    args.out.mkdir(parents=True, exist_ok=True)
    summaries = run_plan(plan, args.out, args.budget_minutes)
    if launch_rank() != 0:
        return 0
    if summaries and summaries[-1].get("stopped") == "preempted":
        last = summaries[-1]
        print(f"experiment: preempted ({last['stop_signal']}) in {last['out']} after step "
              f"{last['steps']}; checkpoint {last['stopped_checkpoint']} written. Run the same "
              f"command again to continue.", flush=True)
        return 130 if last["stop_signal"] == "SIGINT" else 0
    curves = [load_curve(s) for s in summaries]
    setup = setup_text(plan, args)
    if plan.kind == "residual":
        residual_report(curves, plan.pairs, targets_of(args), setup, args.out)
    else:
        scaling_report(curves, setup, args.out)
    print(f"report: {args.out / 'report.md'}\nresults: {args.out / 'results.csv'}\n"
          f"plots: {args.out / 'curves.png'}, {args.out / 'dead_fraction.png'}")
    return 0


def setup_text(plan: Plan, args: argparse.Namespace) -> str:
    b = plan.base
    arms = "; ".join(f"{a.label} ({', '.join(f'{k}={v}' for k, v in a.fields.items())})"
                     for a in plan.arms)
    return "\n".join([
        "## Setup", "",
        f"- command: `{shlex.join(['inception-v4', *sys.argv[1:]])}`",
        f"- data: `{b.data}`, image size {b.image_size}, global batch {b.batch_size}, "
        f"{b.epochs:g} epochs per run, seeds {list(plan.seeds)}",
        f"- recipe: optimizer {b.optimizer}, lr {b.lr:g} at batch {b.reference_batch} "
        f"(scaled linearly with the batch), schedule {b.schedule}, label smoothing "
        f"{b.label_smoothing:g}, weight decay {b.weight_decay:g}",
        f"- model defaults: width {b.width:g}, depth {b.depth:g}; arms: {arms}",
        f"- budget: {args.budget_minutes:g} minutes of training in all (0: none)",
    ])
