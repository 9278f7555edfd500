"""Plots in the style of the paper's Figs. 21-26: error against training progress, per arm."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .curves import Curve
from .stats import mean_and_spread


def _plt():  # noqa: ANN202 - matplotlib.pyplot with the file-only backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def by_arm(curves: list[Curve]) -> dict[str, list[Curve]]:
    arms: dict[str, list[Curve]] = {}
    for c in curves:
        if c.steps:
            arms.setdefault(c.arm, []).append(c)
    return arms


def _band(ax, x: np.ndarray, ys: list[list[float]], label: str) -> None:  # noqa: ANN001
    mean, spread = mean_and_spread(ys)
    x = x[: len(mean)]
    ax.plot(x, 100 * mean, marker=".", label=label)
    ax.fill_between(x, 100 * (mean - spread), 100 * (mean + spread), alpha=0.2)


def plot_error_curves(curves: list[Curve], path: Path, title: str) -> Path:
    """2×2: top-1 and top-5 error (mean ± s.d. over seeds) against steps and wall time."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for arm, runs in by_arm(curves).items():
        n = min(len(r.steps) for r in runs)
        steps = np.array(runs[0].steps[:n], dtype=float)
        minutes = np.mean([r.seconds[:n] for r in runs], axis=0) / 60
        for col, key in enumerate(("top1", "top5")):
            ys = [getattr(r, key)[:n] for r in runs]
            _band(axes[0][col], steps, ys, arm)
            _band(axes[1][col], minutes, ys, arm)
    for col, name in enumerate(("Top-1", "Top-5")):
        axes[0][col].set(xlabel="training step", ylabel=f"{name} error (%)")
        axes[1][col].set(xlabel="training time (minutes)", ylabel=f"{name} error (%)")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_dead_fraction(curves: list[Curve], path: Path, title: str) -> Path:
    """Fraction of exact zeros before the average pool against steps, one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (arm, runs) in enumerate(by_arm(curves).items()):
        for j, r in enumerate(runs):
            ax.plot(r.steps, [100 * d for d in r.dead], color=colors[i % len(colors)],
                    alpha=0.8, marker=".", label=arm if j == 0 else None)
    ax.axhline(99, color="k", ls=":", lw=1, label="died (≥ 99 % zeros)")
    ax.set(xlabel="training step", ylabel="exact zeros before the average pool (%)",
           title=title, ylim=(-2, 102))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
