"""Plain-text tables of benchmark rows (the same numbers the JSON holds)."""

from __future__ import annotations


def _mem(row: dict) -> str:
    return f"{row['memory_mb']:.0f}" if row.get("memory_mb") is not None else "-"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _err(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _judged(row: dict) -> str:
    if row.get("max_rel_err") is None:
        return "-"
    return "ok" if row["within_tol"] else f"> {row['rel_tol']:.0e}"


def print_rows(rows: list[dict], limit: dict[str, float]) -> None:
    """One line per contestant: its dtype, speed, latency, GFLOP/s, share of the dense-kernel
    limit of its dtype, max relative logit error against eager float32 and whether that is
    within its dtype's bound (inception_v4.tolerances), memory."""
    for dtype, gflops in limit.items():
        print(f"dense-kernel limit {dtype} (best of matmul, 1x1 and 3x3 conv): "
              f"{gflops:.1f} GFLOP/s")
    print(f"{'model':20s} {'mode':5s} {'impl':14s} {'dtype':8s} {'img/s':>7s} {'ms/batch':>8s} "
          f"{'GFLOP/s':>7s} {'%limit':>6s} {'rel err':>8s} {'bound':>7s} {'mem MiB':>7s}")
    for r in rows:
        print(f"{r['model']:20s} {r['mode']:5s} {r['impl']:14s} {r['config']['dtype']:8s} "
              f"{r['images_per_s']:7.2f} {r['latency_ms']:8.1f} {r['gflops']:7.1f} "
              f"{_pct(r['peak_fraction']):>6s} {_err(r.get('max_rel_err')):>8s} "
              f"{_judged(r):>7s} {_mem(r):>7s}")


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
