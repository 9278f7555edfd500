"""The figures of a ``benchmarks/gpu_smoke.sh`` run, as Markdown in OUT/figures.md.

    python benchmarks/gpu_figures.py OUT

From the bench JSON files: every contestant's images/s and ours over the fastest timm of the
same dtype (inference at float32 eager and bf16; training at float32 and bf16 autocast, compiled
on a GPU). From the speed runs' ``metrics.csv``: training images/s on one process and, with two
or more GPUs, under DDP (median over the second half of the steps, after compilation), and
the scaling between them.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

BENCHES = ("bench_infer", "bench_infer_bf16", "bench_train")


def bench_lines(out: Path) -> list[str]:
    lines = ["| run | model | mode | contestant | dtype | compiled | images/s |",
             "|---|---|---|---|---|---|---:|"]
    ratios = ["| run | mode | ours | vs | speed ours/peer |", "|---|---|---|---|---:|"]
    for name in BENCHES:
        path = out / f"{name}.json"
        if not path.is_file():
            continue
        result = json.loads(path.read_text())
        for r in result["rows"]:
            c = r["config"]
            dtype = c.get("dtype", "float32") + (" (autocast)" if c.get("amp") else "")
            lines.append(f"| {name} | {r['model']} | {r['mode']} | {r['impl']} | {dtype} | "
                         f"{'yes' if c.get('compile') else 'no'} | {r['images_per_s']:.3g} |")
        ratios += [f"| {name} | {p['mode']} | {p['ours']} | {p['peer']} | "
                   f"{p['speed_ratio']:.2f}x |" for p in result["ratios"]]
    return lines + [""] + ratios


def speed(run: Path) -> tuple[float, int] | None:
    """Median images/s over the second half of the logged steps, and how many steps."""
    path = run / "metrics.csv"
    if not path.is_file():
        return None
    with path.open() as f:
        rates = [float(row["images_per_s"]) for row in csv.DictReader(f)]
    if not rates:
        return None
    late = rates[len(rates) // 2:]
    return statistics.median(late), len(late)


def speed_lines(out: Path) -> list[str]:
    lines = ["| training run | images/s (global) | steps in the median |", "|---|---:|---:|"]
    found = {name: speed(out / name) for name in ("speed_1gpu", "speed_ddp")}
    for name, got in found.items():
        if got is not None:
            lines.append(f"| {name} | {got[0]:.1f} | {got[1]} |")
    one, ddp = found["speed_1gpu"], found["speed_ddp"]
    if one and ddp:
        lines.append(f"\nDDP over one process: {ddp[0] / one[0]:.2f}x images/s")
    return lines


def main(out: Path) -> None:
    text = ["# GPU figures", "", f"From {out}.", "", *bench_lines(out), "", *speed_lines(out)]
    machine = next((json.loads((out / f"{n}.json").read_text())["machine"] for n in BENCHES
                    if (out / f"{n}.json").is_file()), {})
    text += ["", f"Machine: {machine.get('gpu', machine.get('cpu', '?'))}, torch "
                 f"{machine.get('torch', '?')}, {machine.get('date', '?')}."]
    (out / "figures.md").write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
