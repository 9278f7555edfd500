"""Markdown tables from a ``inception-v4 bench --json`` file (for benchmarks/RESULTS.md).

    python benchmarks/to_markdown.py benchmarks/results/cpu-default.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _judged(row: dict) -> str:
    err = row.get("max_rel_err")
    if err is None:
        return "-"
    bound = row.get("rel_tol")
    mark = "" if bound is None else (" ✓" if err <= bound else f" ✗ (> {bound:.0e})")
    return f"{err:.1e}{mark}"


def speed_table(rows: list[dict]) -> list[str]:
    """One row per contestant; the error is marked against its dtype's bound (✓ within)."""
    out = ["| model | mode | contestant | dtype | images/s | ms/batch | GFLOP/s | % of limit | "
           "max rel. error | peak MiB |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        mem = f"{r['memory_mb']:.0f}" if r.get("memory_mb") is not None else "-"
        frac = r.get("peak_fraction")
        dtype = r["config"].get("dtype", "float32")
        dtype += " (autocast)" if r["config"].get("amp") else ""
        out.append(f"| {r['model']} | {r['mode']} | {r['impl']} | {dtype} | "
                   f"{r['images_per_s']:.2f} | {r['latency_ms']:.0f} | {r['gflops']:.0f} | "
                   f"{'-' if frac is None else f'{100 * frac:.1f}'} | {_judged(r)} | {mem} |")
    return out


def ratio_table(pairs: list[dict]) -> list[str]:
    """Ours over the fastest of each peer family of the same dtype (timm; the runtimes)."""
    out = ["| model | mode | ours | peer | speed ours/peer | memory ours/peer |",
           "|---|---|---|---|---:|---:|"]
    for p in pairs:
        mem = f"{p['memory_ratio']:.2f}" if "memory_ratio" in p else "-"
        out.append(f"| {p['model']} | {p['mode']} | {p['ours']} | {p['peer']} | "
                   f"{p['speed_ratio']:.2f} | {mem} |")
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
    flags = " ".join(m.get("cpu_flags", [])) or "none"
    print(f"CPU flags (vector and matrix): {flags}; torch's CPU capability: "
          f"{m.get('cpu_capability', '?')}; onnxruntime {m.get('onnxruntime', '-')}, "
          f"openvino {m.get('openvino', '-')}, nncf {m.get('nncf', '-')}.\n")
    if result.get("rows"):
        for dtype, limit in result["limit_gflops"].items():
            kernels = ", ".join(f"{k} {v:.0f}" for k, v in result["dense_limits_before"][dtype]
                                .items())
            print(f"Dense-kernel limit {dtype}: {limit:.0f} GFLOP/s (before the run: "
                  f"{kernels}).\n")
        print("\n".join(speed_table(result["rows"])) + "\n")
        print("\n".join(ratio_table(result["ratios"])) + "\n")
    if result.get("data"):
        print("\n".join(data_table(result["data"])))


if __name__ == "__main__":
    main(sys.argv[1])
