"""The learning rate as a pure function of the (fractional) epoch.

Paper (§4): 0.045, "decayed every two epochs using an exponential rate of 0.94", i.e.
TF ``exponential_decay(staircase=True)``: ``0.045 × 0.94^⌊epoch / 2⌋``.

Batch-size rule (linear scaling): the paper trained on 20 replicas; with inc-train's 32
images per replica that is a global batch of 640 (``config.PAPER_BATCH``). At another global
batch ``B`` the base rate is ``lr × B / 640``, i.e. ``lr × B / (32 × 20)``.

Warm-up fits the run: it takes at most :data:`MAX_WARMUP_FRACTION` of ``epochs`` (a longer
``warmup_epochs``, e.g. the small preset's 4 with ``--epochs 3``, is clipped to it, and
:func:`schedule_notes` says so before the run starts), so every run reaches its peak rate and
then decays.
"""

from __future__ import annotations

import math

from .config import PAPER_BATCH, TrainConfig

MAX_WARMUP_FRACTION = 0.3  # of the run: warm-up never takes longer (one-cycle's usual peak)


def warmup_length(warmup_epochs: float, epochs: float, schedule: str) -> float:
    """The warm-up a run gets: ``warmup_epochs`` (one-cycle: 0.3 × ``epochs`` when 0), at
    most ``MAX_WARMUP_FRACTION × epochs``."""
    if schedule == "onecycle" and warmup_epochs == 0:
        return MAX_WARMUP_FRACTION * epochs
    return min(warmup_epochs, MAX_WARMUP_FRACTION * epochs)


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
    Warm-up is clipped to 30 % of ``epochs`` (:func:`warmup_length`).
    All are scaled by ``batch_size / reference_batch`` (the linear rule; see module doc).
    """
    peak = lr * batch_size / reference_batch
    warmup_epochs = warmup_length(warmup_epochs, epochs, schedule)
    if schedule == "onecycle":
        top = warmup_epochs
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


def schedule_notes(config: TrainConfig) -> list[str]:
    """What a user should know about the schedule before the run starts (a warm-up longer
    than the run allows, clipped)."""
    kept = warmup_length(config.warmup_epochs, config.epochs, config.schedule)
    if config.warmup_epochs <= kept:
        return []
    return [f"warm-up of {config.warmup_epochs:g} epochs is too long for a {config.epochs:g}-"
            f"epoch run: clipped to {kept:g} epochs ({MAX_WARMUP_FRACTION:.0%} of the run), "
            f"so the learning rate reaches its peak and then decays"]
