"""Plain-text tables of benchmark rows (the same numbers the JSON holds)."""

from __future__ import annotations


def _mem(row: dict) -> str:
    return f"{row['memory_mb']:.0f}" if row.get("memory_mb") is not None else "-"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _err(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def print_rows(rows: list[dict], limit: dict[str, float]) -> None:
    """One line per contestant: speed, latency, GFLOP/s, share of the dense-kernel limit of
    its dtype, max relative logit error against eager float32, memory."""
    for dtype, gflops in limit.items():
        print(f"dense-kernel limit {dtype} (best of matmul, 1x1 and 3x3 conv): "
              f"{gflops:.1f} GFLOP/s")
    print(f"{'model':22s} {'mode':5s} {'impl':12s} {'img/s':>8s} {'ms/batch':>9s} "
          f"{'GFLOP/s':>8s} {'%limit':>6s} {'rel err':>8s} {'mem MiB':>8s}")
    for r in rows:
        print(f"{r['model']:22s} {r['mode']:5s} {r['impl']:12s} {r['images_per_s']:8.2f} "
              f"{r['latency_ms']:9.1f} {r['gflops']:8.1f} {_pct(r['peak_fraction']):>6s} "
              f"{_err(r.get('max_rel_err')):>8s} {_mem(r):>8s}")


def print_ratios(pairs: list[dict]) -> None:
    """Ours over the fastest of each peer family."""
    if not pairs:
        return
    print(f"{'model':22s} {'mode':5s} {'ours':12s} {'vs':16s} {'speed':>7s} {'memory':>7s}")
    for p in pairs:
        mem = f"{p['memory_ratio']:.2f}x" if "memory_ratio" in p else "-"
        print(f"{p['model']:22s} {p['mode']:5s} {p['ours']:12s} {p['peer']:16s} "
              f"{p['speed_ratio']:6.2f}x {mem:>7s}")


def print_data(rows: list[dict]) -> None:
    """Input pipeline images/s per worker count, ours against torchvision's."""
    if not rows:
        return
    print(f"input pipeline at {rows[0]['image_size']} px, batch {rows[0]['batch_size']}")
    print(f"{'workers':>7s} {'ours img/s':>11s} {'torchvision':>11s} {'ratio':>6s}")
    for w in dict.fromkeys(r["workers"] for r in rows):
        rate = {r["pipeline"]: r["images_per_s"] for r in rows if r["workers"] == w}
        print(f"{w:7d} {rate['ours']:11.1f} {rate['torchvision']:11.1f} "
              f"{rate['ours'] / rate['torchvision']:5.2f}x")
