"""The learning rate as a pure function of the (fractional) epoch.

Paper (§4): 0.045, "decayed every two epochs using an exponential rate of 0.94", i.e.
TF ``exponential_decay(staircase=True)``: ``0.045 × 0.94^⌊epoch / 2⌋``.

Batch-size rule (linear scaling): the paper trained on 20 replicas; with inc-train's 32
images per replica that is a global batch of 640 (``config.PAPER_BATCH``). At another global
batch ``B`` the base rate is ``lr × B / 640``, i.e. ``lr × B / (32 × 20)``.
"""

from __future__ import annotations

import math

from .config import PAPER_BATCH, TrainConfig


def learning_rate(
    epoch: float,
    *,
    lr: float = 0.045,
    schedule: str = "step",
    decay: float = 0.94,
    decay_epochs: float = 2.0,
    epochs: float = 160.0,
    warmup_epochs: float = 0.0,
    batch_size: int = PAPER_BATCH,
    reference_batch: int = PAPER_BATCH,
) -> float:
    """The learning rate at ``epoch`` (a float: ``step / steps_per_epoch``).

    ``step``: ``lr × decay^⌊epoch / decay_epochs⌋`` (the paper). ``cosine``: half a cosine
    from ``lr`` to 0 over ``epochs``. ``onecycle``: linear from 0 up to ``lr`` and linearly
    back down to 0 at ``epochs``, peaking at ``warmup_epochs`` (0.3 × epochs if 0). The
    ``step`` and ``cosine`` schedules start with a linear ramp from 0 over ``warmup_epochs``.
    All are scaled by ``batch_size / reference_batch`` (the linear rule; see module doc).
    """
    peak = lr * batch_size / reference_batch
    if schedule == "onecycle":
        top = warmup_epochs or 0.3 * epochs
        if epoch < top:
            return peak * epoch / top
        return peak * max(0.0, (epochs - epoch) / (epochs - top))
    if epoch < warmup_epochs:
        return peak * epoch / warmup_epochs
    if schedule == "step":
        return peak * decay ** math.floor(epoch / decay_epochs)
    if schedule == "cosine":
        t = min(1.0, (epoch - warmup_epochs) / max(epochs - warmup_epochs, 1e-12))
        return peak * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {schedule!r}; choose step, cosine or onecycle")


def config_learning_rate(config: TrainConfig, epoch: float) -> float:
    """:func:`learning_rate` with the schedule fields of ``config``."""
    return learning_rate(
        epoch, lr=config.lr, schedule=config.schedule, decay=config.lr_decay,
        decay_epochs=config.lr_decay_epochs, epochs=config.epochs,
        warmup_epochs=config.warmup_epochs, batch_size=config.batch_size,
        reference_batch=config.reference_batch)
