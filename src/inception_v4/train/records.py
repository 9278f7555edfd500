"""What a run writes: ``config.json``, ``metrics.csv``, ``eval.csv``, ``curves.png``."""

from __future__ import annotations

import csv
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy
import torch
import torchvision

from .._version import __version__

METRICS_COLUMNS = ("step", "epoch", "lr", "loss", "images_per_s", "seconds")
EVAL_COLUMNS = ("epoch", "step", "top1_err", "top5_err", "ema_top1_err", "ema_top5_err",
                "dead_fraction")


def versions() -> dict[str, str]:
    return {"inception_v4": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": numpy.__version__}


def write_config_json(out: Path, config: dict[str, Any], command: list[str] | None,
                      extra: dict[str, Any]) -> None:
    record = {"config": config, "command": command if command is not None else sys.argv,
              "versions": versions(), **extra}
    (out / "config.json").write_text(json.dumps(record, indent=2) + "\n")


class CsvLog:
    """An append-only CSV file flushed after every row.

    On resume, rows after the checkpoint's step (written by the interrupted run after its
    last checkpoint) are dropped so the file matches the state training continues from.
    """

    def __init__(self, path: Path, columns: tuple[str, ...], keep_until_step: int | None,
                 tensorboard: Any = None):
        self.path, self.columns, self.tensorboard = path, columns, tensorboard
        rows = read_csv(path) if keep_until_step is not None and path.is_file() else []
        rows = [r for r in rows if int(float(r["step"])) <= (keep_until_step or 0)]
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, columns)
        self.writer.writeheader()
        self.writer.writerows(rows)
        self.file.flush()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: _fmt(row[k]) for k in self.columns})
        self.file.flush()
        if self.tensorboard is not None:  # the same row as TensorBoard scalars
            for key in self.columns:
                if key not in ("step", "epoch") and isinstance(row[key], (int, float)):
                    self.tensorboard.add_scalar(f"{self.path.stem}/{key}", row[key], row["step"])
            self.tensorboard.flush()

    def close(self) -> None:
        self.file.close()


def tensorboard_writer(out: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` writing event files into ``out`` when the
    ``tensorboard`` package is installed (it is optional); None otherwise."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(out))


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_curves(out: Path) -> Path:
    """``curves.png``: training loss and top-1/top-5 error (raw and averaged) vs steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, evals = read_csv(out / "metrics.csv"), read_csv(out / "eval.csv")
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(_col(metrics, "step"), _col(metrics, "loss"), lw=1)
    ax_loss.set(xlabel="step", ylabel="training loss", title="loss")
    steps = _col(evals, "step")
    for key, label, style in (("top1_err", "top-1", "-"), ("top5_err", "top-5", "-"),
                              ("ema_top1_err", "top-1 averaged", "--"),
                              ("ema_top5_err", "top-5 averaged", "--")):
        values = _col(evals, key)
        if any(v == v for v in values):  # skip all-NaN (averaging off)
            ax_err.plot(steps, [100 * v for v in values], style, marker=".", label=label)
    ax_err.set(xlabel="step", ylabel="error (%)", title="validation error")
    ax_err.legend()
    for ax in (ax_loss, ax_err):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _col(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) if r[key] not in ("", "nan") else float("nan") for r in rows]
