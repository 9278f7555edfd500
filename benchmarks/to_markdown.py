"""Markdown tables from a ``inception-v4 bench --json`` file (for benchmarks/RESULTS.md).

    python benchmarks/to_markdown.py benchmarks/results/cpu-default.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def speed_table(rows: list[dict]) -> list[str]:
    out = ["| model | mode | contestant | images/s | ms/batch | GFLOP/s | % matmul peak | "
           "peak MiB |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        mem = f"{r['memory_mb']:.0f}" if r.get("memory_mb") is not None else "-"
        out.append(f"| {r['model']} | {r['mode']} | {r['impl']} | {r['images_per_s']:.2f} | "
                   f"{r['latency_ms']:.0f} | {r['gflops']:.0f} | "
                   f"{100 * r['peak_fraction']:.1f} | {mem} |")
    return out


def ratio_table(rows: list[dict]) -> list[str]:
    """Ours over each timm configuration, speed and memory."""
    out = ["| model | mode | ours | timm | speed ours/timm | memory ours/timm |",
           "|---|---|---|---|---:|---:|"]
    for r in rows:
        if r["impl"].startswith("timm"):
            continue
        for t in rows:
            if (t["model"], t["mode"]) != (r["model"], r["mode"]) or not t["impl"].startswith(
                    "timm"):
                continue
            mem = (f"{r['memory_mb'] / t['memory_mb']:.2f}" if r.get("memory_mb")
                   and t.get("memory_mb") else "-")
            out.append(f"| {r['model']} | {r['mode']} | {r['impl']} | {t['impl']} | "
                       f"{r['images_per_s'] / t['images_per_s']:.2f} | {mem} |")
    return out


def data_table(rows: list[dict]) -> list[str]:
    out = ["| workers | ours images/s | torchvision images/s | ours/torchvision |",
           "|---:|---:|---:|---:|"]
    for w in dict.fromkeys(r["workers"] for r in rows):
        rate = {r["pipeline"]: r["images_per_s"] for r in rows if r["workers"] == w}
        out.append(f"| {w} | {rate['ours']:.0f} | {rate['torchvision']:.0f} | "
                   f"{rate['ours'] / rate['torchvision']:.2f} |")
    return out


def main(path: str) -> None:
    result = json.loads(Path(path).read_text())
    m, after = result["machine"], result.get("machine_after", {})
    print(f"Measured {m['date']} on {m['cpu']} ({m['logical_cpus']} CPUs), torch {m['torch']},"
          f" timm {m.get('timm', '-')}, {result['settings']['threads']} threads; load average "
          f"(1/5/15 min) {m.get('load_avg_1_5_15')} at start, "
          f"{after.get('load_avg_1_5_15', '?')} at end.\n")
    if result.get("rows"):
        peaks = ", ".join(f"{p:.0f}" for p in result["matmul_gflops"])
        print(f"Dense fp32 matmul peak: median {result['matmul_peak_gflops']:.0f} GFLOP/s "
              f"(runs: {peaks}).\n")
        print("\n".join(speed_table(result["rows"])) + "\n")
        print("\n".join(ratio_table(result["rows"])) + "\n")
    if result.get("data"):
        print("\n".join(data_table(result["data"])))


if __name__ == "__main__":
    main(sys.argv[1])
