"""What a run writes and prints: ``config.json``, ``metrics.csv``, ``eval.csv``,
``curves.png``, TensorBoard events, and the progress (a tqdm bar on a terminal, plain log lines
otherwise; rank 0 only) with its ETA."""

from __future__ import annotations

import csv
import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy
import torch
import torchvision
from tqdm import tqdm

from .._version import __version__

if TYPE_CHECKING:
    from .run import Run

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


@dataclass
class Window:
    """Loss and throughput since the last log line."""

    loss_sum: torch.Tensor | float = 0.0
    steps: int = 0
    images: int = 0
    start_seconds: float = 0.0  # the run's training seconds when the window opened

    def add(self, loss: torch.Tensor, images: int) -> None:
        self.loss_sum = self.loss_sum + loss
        self.steps += 1
        self.images += images

    def close(self, seconds: float) -> tuple[float, float]:
        """``(mean loss, images per second)`` of the window, then start a new one."""
        loss = float(self.loss_sum) / max(self.steps, 1)
        ips = self.images / max(seconds - self.start_seconds, 1e-9)
        self.loss_sum, self.steps, self.images, self.start_seconds = 0.0, 0, 0, seconds
        return loss, ips


class Progress:
    """Step, loss, learning rate, images/s and ETA: a bar when stderr is a terminal."""

    def __init__(self, enabled: bool, total: int, initial: int) -> None:
        self.enabled, self.total = enabled, total
        use_bar = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                        file=sys.stderr) if use_bar else None

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def log(self, step: int, epoch: float, loss: float, lr: float, ips: float,
            eta: float) -> None:
        """One log line (or the bar's postfix); ``eta``: seconds left, evaluations included."""
        if self.bar is not None:
            self.bar.set_postfix(epoch=f"{epoch:.2f}", loss=f"{loss:.3f}", lr=f"{lr:.3g}",
                                 img_s=f"{ips:.0f}", eta=_hms(eta), refresh=False)
        elif self.enabled:
            print(f"step {step}/{self.total} epoch {epoch:.2f} loss {loss:.4f} lr {lr:.4g} "
                  f"{ips:.1f} img/s eta {_hms(eta)}", flush=True)

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        elif self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def eta_seconds(run: Run, total: int, eval_seconds: float, val_batches: int) -> float:
    """Training left at this run's step rate, plus the evaluations left at the last one's
    duration ``eval_seconds`` (before the first: its ``val_batches`` at a third of a training
    step each, the forward pass without the backward, twice with averaged weights)."""
    step_seconds = run.seconds / max(run.step, 1)
    per_eval = eval_seconds or val_batches * step_seconds / 3 * (2 if run.ema else 1)
    evals = evaluations_left(run.step, total, run.steps_per_epoch,
                             run.config.eval_every_steps)
    return (total - run.step) * step_seconds + evals * per_eval


def evaluations_left(step: int, total: int, steps_per_epoch: int, every: int) -> int:
    """Evaluations still to come once step ``step`` is trained (the log line comes before
    that step's evaluation): one per epoch end and one at the end, and one every ``every``
    steps (0: none) that is not at an epoch end."""
    ends = {s for s in range(step, total + 1) if s % steps_per_epoch == 0} | {total}
    if every:
        ends |= set(range(-(-step // every) * every, total, every))
    return len(ends)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
