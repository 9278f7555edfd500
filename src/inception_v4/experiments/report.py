"""``report.md`` and ``results.csv`` for both experiments, with an honest conclusion."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .curves import DEAD_THRESHOLD, Curve
from .plots import by_arm, plot_dead_fraction, plot_error_curves
from .stats import ratio_with_interval, steps_to_target


def write_results_csv(curves: list[Curve], targets: tuple[float, ...], path: Path) -> None:
    """One row per run: final errors, steps to each top-1 target, whether and when it died."""
    cols = ["arm", "seed", "steps", "minutes", "final_top1_err", "final_top5_err",
            "final_dead_fraction", "died_at_step"] + [f"steps_to_top1_{t:g}" for t in targets]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for c in curves:
            last = -1 if c.steps else None
            w.writerow([c.arm, c.seed, c.steps[-1] if c.steps else 0,
                        round(c.seconds[-1] / 60, 2) if c.steps else 0,
                        _get(c.top1, last), _get(c.top5, last), _get(c.dead, last),
                        c.died_at()] + [steps_to_target(c.steps, c.top1, t) for t in targets])


def _get(values: list[float], i: int | None) -> float | str:
    return round(values[i], 4) if i is not None else ""


def pair_rows(curves: list[Curve], pair: tuple[str, str], targets: tuple[float, ...]) -> list:
    """Per target: mean steps of each arm and the ratio (first / second) with a 95 % CI."""
    arms = by_arm(curves)
    a, b = (sorted(arms.get(x, []), key=lambda c: c.seed) for x in pair)
    rows = []
    for t in targets:
        sa = [steps_to_target(c.steps, c.top1, t) for c in a]
        sb = [steps_to_target(c.steps, c.top1, t) for c in b]
        if not sa or len(sa) != len(sb):
            continue
        ratio, lo, hi = ratio_with_interval(sa, sb)
        rows.append((t, _mean(sa), _mean(sb), ratio, lo, hi))
    return rows


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def residual_verdict(rows: list) -> str:
    """"reproduced" when, at every target both arms reached, the ratio's interval lies below
    1 (the residual arm needs fewer steps); "not reproduced" when it lies above 1 at any
    target; "inconclusive" otherwise, including when no target was reached by both."""
    finite = [r for r in rows if math.isfinite(r[1]) and math.isfinite(r[2])]
    if not finite:
        return "inconclusive (no error target reached by both arms)"
    if any(r[4] > 1.0 for r in finite):
        return "not reproduced"
    if all(r[5] < 1.0 for r in finite):
        return "reproduced"
    return "inconclusive (intervals include 1)"


def residual_report(curves: list[Curve], pairs, targets, setup: str, out: Path) -> str:  # noqa: ANN001
    plot_error_curves(curves, out / "curves.png", "Residual vs plain: validation error")
    plot_dead_fraction(curves, out / "dead_fraction.png", "Dead fraction (Sec. 3.3)")
    write_results_csv(curves, targets, out / "results.csv")
    lines = ["# Residual vs plain: training speed (Figs. 21-26)", "", setup, "",
             "## Results", "", *_final_table(curves), ""]
    verdicts = []
    for pair in pairs:
        rows = pair_rows(curves, pair, targets)
        verdict = residual_verdict(rows)
        verdicts.append(f"- {pair[0]} vs {pair[1]}: **{verdict}**")
        lines += [f"### {pair[0]} vs {pair[1]}", "",
                  "| top-1 error target | steps, " + pair[0] + " | steps, " + pair[1]
                  + " | ratio | 95 % CI |", "|---|---|---|---|---|"]
        lines += [f"| {t:.0%} | {sa:.0f} | {sb:.0f} | {r:.2f} | {lo:.2f} – {hi:.2f} |"
                  for t, sa, sb, r, lo, hi in rows]
        lines += ["", f"Verdict: {verdict}.", ""]
    lines += ["## Conclusion", "", "The paper: residual Inception networks train much faster "
              "than plain ones of similar cost (Figs. 21-26).", "", *verdicts, "",
              "A ratio below 1 means the residual network reached the error target in fewer "
              "steps. Plots: `curves.png` (error vs steps and vs wall time, mean ± s.d. over "
              "seeds), `dead_fraction.png`. Per-run numbers: `results.csv`."]
    return _write(out, lines)


def scaling_report(curves: list[Curve], setup: str, out: Path) -> str:
    plot_error_curves(curves, out / "curves.png", "Residual scaling: validation error")
    plot_dead_fraction(curves, out / "dead_fraction.png",
                       "Exact zeros before the average pool (Sec. 3.3)")
    write_results_csv(curves, (), out / "results.csv")
    lines = ["# Residual scaling vs dying (Sec. 3.3, Fig. 20)", "", setup, "",
             f"Died: the loss became non-finite, or from some evaluation on ≥ "
             f"{DEAD_THRESHOLD:.0%} of the last activation before the average pool was "
             "exactly zero (the paper: \"the last layer before the average pooling started to "
             "produce only zeros\").", "", "| arm | runs | died | died at steps | final top-1 "
             "error (mean) |", "|---|---|---|---|---|"]
    for arm, runs in _all_by_arm(curves).items():
        died = [c.died_at() for c in runs if c.died_at() is not None]
        finals = [c.top1[-1] for c in runs if c.top1]
        mean = f"{_mean(finals):.1%}" if finals else "-"
        lines.append(f"| {arm} | {len(runs)} | {len(died)} | {died or '-'} | {mean} |")
    lines += ["", "## Conclusion", "", scaling_verdict(curves), ""]
    return _write(out, lines)


def _all_by_arm(curves: list[Curve]) -> dict[str, list[Curve]]:
    """Runs grouped by arm, including runs that died before their first evaluation."""
    out: dict[str, list[Curve]] = {}
    for c in curves:
        out.setdefault(c.arm, []).append(c)
    return out


def scaling_verdict(curves: list[Curve]) -> str:
    """Reproduced if unscaled runs died more often than scaled ones; not reproduced (at this
    scale) if no unscaled run died; inconclusive otherwise."""
    def rate(pred) -> float:  # noqa: ANN001
        runs = [c for c in curves if pred(_scale_of(c.arm))]
        return sum(c.died_at() is not None for c in runs) / max(len(runs), 1)

    unscaled, scaled = rate(lambda s: s >= 1.0), rate(lambda s: s < 1.0)
    text = (f"Runs that died: {unscaled:.0%} without scaling (scale 1.0), {scaled:.0%} with "
            "scales below 1.")
    if unscaled == 0:
        return text + (" **Not reproduced at this scale**: no unscaled run died within this "
                       "budget (the paper saw it after tens of thousands of steps with over "
                       "1000 filters).")
    if unscaled > scaled:
        return text + " **Reproduced**: scaling the residuals prevented dying."
    return text + " **Inconclusive**: scaled runs died as often as unscaled ones."


def _scale_of(arm: str) -> float:
    return float(arm.split(",")[0].replace("scale", "").strip())


def _final_table(curves: list[Curve]) -> list[str]:
    lines = ["| arm | seeds | steps | minutes | final top-1 err | final top-5 err |",
             "|---|---|---|---|---|---|"]
    for arm, runs in by_arm(curves).items():
        lines.append(f"| {arm} | {len(runs)} | {_mean([r.steps[-1] for r in runs]):.0f} | "
                     f"{_mean([r.seconds[-1] for r in runs]) / 60:.1f} | "
                     f"{_mean([r.top1[-1] for r in runs]):.1%} | "
                     f"{_mean([r.top5[-1] for r in runs]):.1%} |")
    return lines


def _write(out: Path, lines: list[str]) -> str:
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    return text
