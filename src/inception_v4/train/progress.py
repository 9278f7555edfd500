"""Progress: a tqdm bar on a terminal, plain log lines otherwise (rank 0 only)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .loop import Run


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
