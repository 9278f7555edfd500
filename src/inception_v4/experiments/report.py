"""``report.md`` and ``results.csv`` for both experiments, with an honest conclusion."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PairRow:
    """Steps to one top-1 error target for a pair of arms (paired over seeds).

    A run that never reached the target is *censored*: it counts as reaching it at its last
    step, the earliest it could have. So when only the second arm has censored runs the
    ratio (first / second) is an upper bound ("≤"), when only the first has, a lower bound
    ("≥"), and when both have, neither ("?").
    """

    target: float
    steps_a: float
    steps_b: float
    censored_a: bool
    censored_b: bool
    ratio: float
    low: float
    high: float

    @property
    def bound(self) -> str:
        return {(False, False): "", (False, True): "≤ ", (True, False): "≥ "}.get(
            (self.censored_a, self.censored_b), "? ")


def _steps_or_censored(curve: Curve, target: float) -> tuple[float, bool]:
    steps = steps_to_target(curve.steps, curve.top1, target)
    if math.isfinite(steps) or not curve.steps:
        return steps, False
    return float(curve.steps[-1]), True


def _arm_steps(runs: list[Curve], target: float) -> tuple[list[float], list[bool]]:
    both = [_steps_or_censored(c, target) for c in runs]
    return [steps for steps, _ in both], [censored for _, censored in both]


def pair_rows(curves: list[Curve], pair: tuple[str, str], targets: tuple[float, ...]) \
        -> list[PairRow]:
    """Per target that some run of the pair reached: mean steps of each arm and the ratio
    (first / second) with a paired-bootstrap 95 % interval."""
    arms = by_arm(curves)
    a, b = (sorted(arms.get(x, []), key=lambda c: c.seed) for x in pair)
    rows = []
    for t in targets:
        (sa, ca), (sb, cb) = _arm_steps(a, t), _arm_steps(b, t)
        if not sa or len(sa) != len(sb) or (all(ca) and all(cb)):
            continue  # no run of either arm reached this target: nothing to compare
        ratio, lo, hi = ratio_with_interval(sa, sb)
        rows.append(PairRow(t, _mean(sa), _mean(sb), any(ca), any(cb), ratio, lo, hi))
    return rows


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def row_verdict(r: PairRow) -> str:
    """"faster" (the first arm): the interval lies below 1 and is exact or an upper bound;
    "slower": it lies above 1 and is exact or a lower bound; "unclear" otherwise."""
    if r.high < 1.0 and not r.censored_a:
        return "faster"
    if r.low > 1.0 and not r.censored_b:
        return "slower"
    return "unclear"


def residual_verdict(rows: list[PairRow]) -> str:
    """"reproduced" when the residual arm is faster at every target compared, "not
    reproduced" when it is slower at any, "inconclusive" otherwise (including when no target
    was reached by every run of either arm: censoring on both sides bounds nothing)."""
    rows = [r for r in rows if not (r.censored_a and r.censored_b)]
    if not rows:
        return "inconclusive (no error target reached by every run of either arm)"
    verdicts = [row_verdict(r) for r in rows]
    if "slower" in verdicts:
        return "not reproduced"
    if all(v == "faster" for v in verdicts):
        return "reproduced"
    unclear = ", ".join(f"{r.target:.0%}" for r, v in zip(rows, verdicts, strict=True)
                        if v == "unclear")
    return f"inconclusive (the interval includes 1 at the {unclear} target)"


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
                  + " | ratio | 95 % CI | first arm |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.target:.0%} | {_censored(r.steps_a, r.censored_a)} | "
                  f"{_censored(r.steps_b, r.censored_b)} | {r.bound}{r.ratio:.2f} | "
                  f"{r.bound}{r.low:.2f} – {r.high:.2f} | {row_verdict(r)} |" for r in rows]
        lines += ["", f"Verdict: {verdict}.", ""]
    lines += ["Steps marked ≥ include runs that never reached the target; they count at their "
              "last step, so the ratio is a bound (≤ or ≥) rather than a value.", "",
              "## Conclusion", "", "The paper: residual Inception networks train much faster "
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
             "error (mean) | zeros before the pool: final (mean) | highest |",
             "|---|---|---|---|---|---|---|"]
    for arm, runs in _all_by_arm(curves).items():
        died = [c.died_at() for c in runs if c.died_at() is not None]
        finals = [c.top1[-1] for c in runs if c.top1]
        dead = [c.dead[-1] for c in runs if c.dead]
        highest = max((max(c.dead) for c in runs if c.dead), default=None)
        lines.append(f"| {arm} | {len(runs)} | {len(died)} | {died or '-'} | "
                     f"{_pct(finals)} | {_pct(dead)} | {_pct([highest] if highest else [])} |")
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


def _pct(values: list[float]) -> str:
    return f"{_mean(values):.1%}" if values else "-"


def _censored(steps: float, censored: bool) -> str:
    return f"{'≥ ' if censored else ''}{steps:.0f}"


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
