"""``fit(config)``: start the run, step until it stops, finish. Read top to bottom:

1. :func:`fit` starts the run (:func:`.run.start_run`: data, network, optimiser, resume,
   logs), runs :func:`train_steps`, closes the run and returns its summary.
2. :func:`train_steps` is the loop: stop?, next batch, one step (:func:`.step.train_step`,
   where the learning rate is set), then :func:`after_step`: log, evaluate, checkpoint.
3. Every epoch and at the end the raw and the averaged weights are evaluated on the val split
   (``eval.csv``), a checkpoint ``checkpoints/step-N.pt`` is written (``last.pt`` points at
   it, ``best.pt`` too when the better of the two top-1 errors improved;
   :func:`inception_v4.checkpoint.save_run`) and ``curves.png`` is redrawn.

SIGTERM, SIGUSR1 or SIGINT (:mod:`.preempt`) stops the run at the next step boundary with a
checkpoint there; the summary says ``stopped: preempted``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from .. import checkpoint
from . import distributed, preempt
from .config import TrainConfig
from .records import eta_seconds, plot_curves
from .run import Run, close_run, start_run
from .schedule import config_learning_rate
from .step import check_finite, train_step, validate


def fit(config: TrainConfig, *, command: list[str] | None = None) -> dict:
    """Train as ``config`` says; returns a summary (final errors, throughput, paths).

    Under torchrun every rank calls this; only rank 0 writes files. Raises
    ``step.NonFiniteLoss`` (naming the step and the last good checkpoint) on a NaN loss.
    """
    d = distributed.setup(config.device)
    try:
        with preempt.stop_signals() as stop:
            started = time.monotonic()
            run = start_run(config, d, stop, command)
            try:
                why = train_steps(run)
            finally:
                close_run(run)
            return summary(run, why, time.monotonic() - started)
    finally:
        distributed.teardown(d)


def train_steps(run: Run) -> str:
    """Step until the schedule ends or a limit or a signal stops the run; returns why."""
    while True:
        why = stop_reason(run)
        if why == "preempted":
            checkpoint_at_signal(run)
            return why
        if why:
            finish(run)
            return why
        tic = time.monotonic()
        batch = next_batch(run)
        if batch is None:
            end_epoch(run)
            continue
        images, labels = batch
        loss = train_step(run, images, labels)
        images_seen = len(labels) * run.dist.world
        count_time(run, time.monotonic() - tic, images_seen)
        run.window.add(loss, images_seen)
        after_step(run)


def next_batch(run: Run) -> tuple | None:
    """The epoch's next batch that some rank has an image of (every rank skips a batch one
    rank has none of: DDP's collectives); None at the end of the epoch."""
    if run.batches is None:
        run.train_loader.sampler.set_epoch(run.epoch, run.position)
        run.batches = iter(run.train_loader)
    for images, labels, skipped in run.batches:
        run.position += 1
        run.skipped += skipped
        if not distributed.any_flag(len(labels) == 0, run.dist):
            return images, labels
    return None


def count_time(run: Run, seconds: float, images: int) -> None:
    run.seconds += seconds
    run.session_seconds += seconds
    run.session_images += images


def after_step(run: Run) -> None:
    """Log every ``log_every`` steps; evaluate or checkpoint when due (not at the end of an
    epoch or of the run, which :func:`end_epoch` and :func:`finish` handle)."""
    cfg = run.config
    run.progress.advance()
    if run.step % cfg.log_every == 0:
        log_metrics(run)
    if run.position >= run.steps_per_epoch or run.step >= run.total_steps:
        return
    if cfg.eval_every_steps and run.step % cfg.eval_every_steps == 0:
        evaluate_and_record(run)
    elif checkpoint_due(run):
        check_finite(run)
        checkpoint.save_run(run)
        run.saved_at = time.monotonic()


def checkpoint_due(run: Run) -> bool:
    cfg = run.config
    by_steps = cfg.checkpoint_every > 0 and run.step % cfg.checkpoint_every == 0
    minutes = cfg.checkpoint_minutes
    return by_steps or (minutes > 0 and time.monotonic() - run.saved_at >= 60 * minutes)


def end_epoch(run: Run) -> None:
    """Count the epoch's unreadable images, evaluate (unless this step was), next epoch."""
    skipped = int(distributed.all_sum([float(run.skipped)], run.dist)[0])
    run.skipped_per_epoch.append(skipped)
    run.progress.message(f"epoch {run.epoch + 1} done: {skipped} unreadable training "
                         f"images skipped")
    if run.last_eval.get("step") != run.step:
        evaluate_and_record(run)
    run.epoch, run.position, run.skipped, run.batches = run.epoch + 1, 0, 0, None


def finish(run: Run) -> None:
    """The end of the run: its epoch's end where its last step ended one, else an
    evaluation at this step (unless there was one)."""
    if run.position >= run.steps_per_epoch:
        end_epoch(run)
    elif run.last_eval.get("step") != run.step:
        evaluate_and_record(run)


def checkpoint_at_signal(run: Run) -> None:
    """A stop signal: checkpoint this step boundary, without evaluating (little time)."""
    check_finite(run)
    run.stopped_at = str(checkpoint.save_run(run))
    run.progress.message(f"{run.stop.name}: stopped after step {run.step}, checkpoint "
                         f"{run.stopped_at}")


def stop_reason(run: Run) -> str | None:
    cfg = run.config
    if distributed.any_flag(run.stop.signal is not None, run.dist):
        return "preempted"
    if run.step >= run.total_steps:
        return "max_steps" if cfg.max_steps and run.step >= cfg.max_steps else "done"
    if cfg.max_minutes > 0 and distributed.rank0_flag(run.seconds >= 60 * cfg.max_minutes,
                                                        run.dist):
        return "max_minutes"
    return None


def log_metrics(run: Run) -> None:
    check_finite(run)
    loss, ips = run.window.close(run.seconds)
    lr = config_learning_rate(run.config, (run.step - 1) / run.steps_per_epoch)
    eta = eta_seconds(run, run.total_steps, run.eval_seconds, len(run.val_loader))
    run.progress.log(run.step, run.fractional_epoch, loss, lr, ips, eta)
    if run.metrics is not None:
        run.metrics.write({"step": run.step, "epoch": run.fractional_epoch, "lr": lr,
                           "loss": loss, "images_per_s": ips, "seconds": run.seconds})


def evaluate_and_record(run: Run) -> None:
    """Evaluate raw and averaged weights, append to eval.csv, checkpoint, redraw curves."""
    cfg, d = run.config, run.dist
    check_finite(run)
    tic = time.monotonic()
    raw = validate(run.net, run.val_loader, d, cfg.amp, cfg.channels_last, "eval (raw)",
                   run.normalizer)
    avg = (validate(run.ema.module, run.val_loader, d, cfg.amp, cfg.channels_last,
                    "eval (averaged)", run.normalizer)
           if run.ema is not None else {"top1_err": math.nan, "top5_err": math.nan})
    run.eval_seconds = time.monotonic() - tic
    row = {"epoch": run.fractional_epoch, "step": run.step, "top1_err": raw["top1_err"],
           "top5_err": raw["top5_err"], "ema_top1_err": avg["top1_err"],
           "ema_top5_err": avg["top5_err"], "dead_fraction": raw["dead_fraction"]}
    run.last_eval = row
    err = min(raw["top1_err"], avg["top1_err"]) if run.ema is not None else raw["top1_err"]
    improved = err < run.best_err
    run.best_err = min(run.best_err, err)
    checkpoint.save_run(run, best=improved)
    run.saved_at = time.monotonic()
    averaged = (f" | averaged {avg['top1_err']:.2%} / {avg['top5_err']:.2%}"
                if run.ema is not None else "")
    run.progress.message(
        f"eval step {run.step} (epoch {run.fractional_epoch:.2f}): top-1 err "
        f"{raw['top1_err']:.2%} top-5 err {raw['top5_err']:.2%}{averaged} | dead "
        f"{raw['dead_fraction']:.2%}")
    if run.evals is not None:
        run.evals.write(row)
        plot_curves(Path(cfg.out))


def summary(run: Run, why: str, wall: float) -> dict:
    out = Path(run.config.out)
    return {
        **run.last_eval, "stopped": why, "steps": run.step,
        "epochs": run.fractional_epoch, "best_top1_err": run.best_err,
        "images_per_s": run.session_images / max(run.session_seconds, 1e-9),
        "train_seconds": run.seconds, "wall_seconds": wall, "world_size": run.dist.world,
        "skipped_per_epoch": run.skipped_per_epoch, "out": str(out),
        "checkpoint": run.last_checkpoint, "curves": str(out / "curves.png"),
        "stop_signal": run.stop.name if why == "preempted" else None,
        "stopped_checkpoint": run.stopped_at,
        "finished_before": (run.resumed_from is not None and why == "done"
                            and run.session_images == 0),
    }
