"""``fit(config)``: open the data, build the run, train epoch by epoch, evaluate, record.

Every epoch and at the end the raw and the averaged weights are evaluated on the val split
(``eval.csv``), a checkpoint ``checkpoints/step-N.pt`` is written (``last.pt`` points at it,
``best.pt`` too when the better of the two top-1 errors improved) and ``curves.png`` is
redrawn. SIGTERM, SIGUSR1 or SIGINT (:mod:`.preempt`) stops the run at the next step boundary
with a checkpoint there; the summary says ``stopped: preempted``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import DataLoader

from ..data import ImageDataset, shutdown_workers
from . import distributed, preempt, run_state
from .build import (
    build_run,
    configure_cuda,
    open_splits,
    per_rank_batch,
    resolve_amp,
    set_transforms,
    start_network,
    wrap_model,
)
from .config import TrainConfig, to_dict
from .distributed import Dist
from .loaders import eval_loader, train_loader
from .loop import Run, check_finite, train_step, validate
from .progress import Progress, Window, eta_seconds
from .records import (
    EVAL_COLUMNS,
    METRICS_COLUMNS,
    CsvLog,
    plot_curves,
    tensorboard_writer,
    write_config_json,
)
from .schedule import config_learning_rate, schedule_notes


@dataclass
class Io:
    """What a run reads and writes besides its state: loaders, logs, progress."""

    train: DataLoader
    val: DataLoader
    total_steps: int
    progress: Progress
    metrics: CsvLog | None = None
    evals: CsvLog | None = None
    window: Window = field(default_factory=Window)
    saved_at: float = field(default_factory=time.monotonic)
    stop: preempt.StopRequest = field(default_factory=preempt.StopRequest)
    stopped_at: str | None = None  # the checkpoint written when a stop signal came
    skipped_per_epoch: list[int] = field(default_factory=list)
    session_images: int = 0
    session_seconds: float = 0.0
    eval_seconds: float = 0.0  # how long the last evaluation took (for the ETA)


def fit(config: TrainConfig, *, command: list[str] | None = None) -> dict:
    """Train as ``config`` says; returns a summary (final errors, throughput, paths).

    Under torchrun every rank calls this; only rank 0 writes files. Raises
    ``loop.NonFiniteLoss`` (naming the step and the last good checkpoint) on a NaN loss.
    """
    d = distributed.setup(config.device)
    try:
        with preempt.stop_signals() as stop:
            return _fit(config, d, command, stop)
    finally:
        distributed.teardown(d)


def _fit(config: TrainConfig, d: Dist, command: list[str] | None,
         stop_request: preempt.StopRequest) -> dict:
    started = time.monotonic()
    configure_cuda(d.device, config.deterministic)
    train_ds, val_ds = open_splits(config)
    found = run_state.find_resume(config.resume, config.out)
    start = start_network(config, train_ds.classes, found.state if found else None)
    config = resolve_amp(start.config, d.device)  # the network arguments of --pretrained
    for note in start.notes:
        _say(d, note)
    set_transforms(train_ds, val_ds, start.record["data_config"])
    per_rank = per_rank_batch(config, d)
    loader = train_loader(train_ds, per_rank, d.rank, d.world, config.seed, config.workers)
    run = build_run(config, d, start.net, loader.sampler.steps_per_epoch())
    for note in schedule_notes(config):
        _say(d, f"note: {note}")
    run.record = start.record
    resume = resume_run(run, found)
    run.model = wrap_model(run.net, config, d)
    io = open_io(run, loader, val_ds, resume is not None)
    io.stop = stop_request
    if d.main:
        write_config_json(Path(config.out), to_dict(config), command, {
            "world_size": d.world, "device": str(d.device), "num_classes": train_ds.num_classes,
            "classes": train_ds.classes, "train_images": len(train_ds), "val_images": len(val_ds),
            "steps_per_epoch": run.steps_per_epoch, "per_rank_batch": per_rank,
            "resumed_from": str(resume) if resume else None,
            "data_config": start.record["data_config"], "pretrained": start.record["pretrained"]})
    try:
        stop = train_epochs(run, io)
    finally:  # workers first: a failed run must exit (data.shutdown_workers)
        shutdown_workers(io.train)
        shutdown_workers(io.val)
        io.progress.close()
        for log in (io.metrics, io.evals):
            if log is not None:
                log.close()
        if io.metrics is not None and io.metrics.tensorboard is not None:
            io.metrics.tensorboard.close()
    done = {"finished_before": resume is not None and stop == "done" and io.session_images == 0}
    return {**summary(run, io, stop, time.monotonic() - started), **done}


def resume_run(run: Run, resume: run_state.Resume | None) -> Path | None:
    """Continue from ``resume`` (``run_state.find_resume``: damaged newer files reported and
    set aside); returns its path, None for a fresh start."""
    cfg, d = run.config, run.dist
    if resume is None:
        return None
    for path, why in resume.damaged:
        _say(d, f"damaged checkpoint {path}: {why}; set aside as {path.name}.damaged, "
                f"trying the previous one")
    changed = run_state.restore_run(run, resume.path, resume.state)
    low, high = distributed.all_max([-run.step, run.step], d)
    if -low != high:
        raise RuntimeError(f"the ranks resumed from different steps ({-low:.0f} to {high:.0f}): "
                           f"{cfg.out} must be on a file system every node shares")
    if d.main:
        run_state.tidy_after_resume(cfg.out, resume.path, run.step, resume.damaged)
    saved_world = int(resume.state["sampler"].get("world", d.world))
    notes = [f"changed: {', '.join(changed)}"] if changed else []
    if saved_world != d.world:
        notes.append(f"{d.world} processes instead of {saved_world}: the same global batches"
                     + ("" if cfg.sync_bn else "; batch-norm statistics are per rank without "
                        "--sync-bn, so the run differs slightly from one that did not change"))
    if resume.unverified:
        notes.append("no checksum in this file (an earlier version's): loaded unverified")
    note = f" ({'; '.join(notes)})" if notes else ""
    _say(d, f"resuming from {resume.path} at step {run.step}, epoch {run.epoch}{note}")
    return resume.path


def open_io(run: Run, loader: DataLoader, val_ds: ImageDataset, resumed: bool) -> Io:
    cfg, d = run.config, run.dist
    total = math.ceil(cfg.epochs * run.steps_per_epoch)
    total = min(total, cfg.max_steps) if cfg.max_steps > 0 else total
    val = eval_loader(val_ds, max(cfg.batch_size // d.world, 1), d.rank, d.world, cfg.seed,
                      cfg.workers, cfg.eval_max_images)
    io = Io(loader, val, total, Progress(d.main, total, run.step))
    io.window.start_seconds = run.seconds
    if d.main:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        keep = run.step if resumed else None
        tb = tensorboard_writer(out)
        io.metrics = CsvLog(out / "metrics.csv", METRICS_COLUMNS, keep, tb)
        io.evals = CsvLog(out / "eval.csv", EVAL_COLUMNS, keep, tb)
    return io


def train_epochs(run: Run, io: Io) -> str:
    """Epochs until the schedule ends or a limit stops the run; returns why it stopped."""
    while True:
        stop = stop_reason(run, io) or train_one_epoch(run, io)
        if stop == "preempted":  # checkpoint this step boundary; no evaluation (little time)
            check_finite(run)
            io.stopped_at = str(run_state.save_run(run))
            io.progress.message(f"{io.stop.name}: stopped after step {run.step}, checkpoint "
                                f"{io.stopped_at}")
            return stop
        epoch_done = run.position >= run.steps_per_epoch
        if epoch_done:
            skipped = int(distributed.all_sum([float(run.skipped)], run.dist)[0])
            io.skipped_per_epoch.append(skipped)
            io.progress.message(f"epoch {run.epoch + 1} done: {skipped} unreadable training "
                                f"images skipped")
        if (epoch_done or stop) and run.last_eval.get("step") != run.step:
            evaluate_and_record(run, io)
        if epoch_done:
            run.epoch, run.position, run.skipped = run.epoch + 1, 0, 0
        if stop:
            return stop


def train_one_epoch(run: Run, io: Io) -> str | None:
    """Train from ``run.position`` to the end of epoch ``run.epoch``; log, evaluate and
    checkpoint on the way. Returns why it stopped early, or None at the end of the epoch."""
    io.train.sampler.set_epoch(run.epoch, run.position)
    world = run.dist.world
    tic = time.monotonic()
    for images, labels, skipped in io.train:
        run.position += 1
        run.skipped += skipped
        if distributed.any_flag(images.numel() == 0, run.dist):
            continue  # every rank skips a step one rank has no image for (DDP's collectives)
        loss = train_step(run, images, labels)
        elapsed = time.monotonic() - tic
        run.seconds += elapsed
        io.session_seconds += elapsed
        io.session_images += len(labels) * world
        io.window.add(loss, len(labels) * world)
        after_step(run, io)
        stop = stop_reason(run, io)
        if stop:
            return stop
        tic = time.monotonic()
    return None


def after_step(run: Run, io: Io) -> None:
    """Log every ``log_every`` steps; evaluate or checkpoint when due (not at an epoch end,
    which the epoch loop handles)."""
    cfg = run.config
    io.progress.advance()
    if run.step % cfg.log_every == 0:
        log_metrics(run, io)
    if run.position >= run.steps_per_epoch or run.step >= io.total_steps:
        return
    if cfg.eval_every_steps and run.step % cfg.eval_every_steps == 0:
        evaluate_and_record(run, io)
    elif _checkpoint_due(run, io):
        check_finite(run)
        run_state.save_run(run)
        io.saved_at = time.monotonic()


def _checkpoint_due(run: Run, io: Io) -> bool:
    cfg = run.config
    by_steps = cfg.checkpoint_every > 0 and run.step % cfg.checkpoint_every == 0
    minutes = cfg.checkpoint_minutes
    return by_steps or (minutes > 0 and time.monotonic() - io.saved_at >= 60 * minutes)


def log_metrics(run: Run, io: Io) -> None:
    check_finite(run)
    loss, ips = io.window.close(run.seconds)
    lr = config_learning_rate(run.config, (run.step - 1) / run.steps_per_epoch)
    eta = eta_seconds(run, io.total_steps, io.eval_seconds, len(io.val))
    io.progress.log(run.step, run.fractional_epoch, loss, lr, ips, eta)
    if io.metrics is not None:
        io.metrics.write({"step": run.step, "epoch": run.fractional_epoch, "lr": lr,
                          "loss": loss, "images_per_s": ips, "seconds": run.seconds})


def stop_reason(run: Run, io: Io) -> str | None:
    cfg = run.config
    if distributed.any_flag(io.stop.signal is not None, run.dist):
        return "preempted"
    if run.step >= io.total_steps:
        return "max_steps" if cfg.max_steps and run.step >= cfg.max_steps else "done"
    if cfg.max_minutes > 0 and distributed.rank0_flag(run.seconds >= 60 * cfg.max_minutes,
                                                        run.dist):
        return "max_minutes"
    return None


def evaluate_and_record(run: Run, io: Io) -> None:
    """Evaluate raw and averaged weights, append to eval.csv, checkpoint, redraw curves."""
    cfg, d = run.config, run.dist
    check_finite(run)
    tic = time.monotonic()
    raw = validate(run.net, io.val, d, cfg.amp, cfg.channels_last, "eval (raw)")
    avg = (validate(run.ema.module, io.val, d, cfg.amp, cfg.channels_last, "eval (averaged)")
           if run.ema is not None else {"top1_err": math.nan, "top5_err": math.nan})
    io.eval_seconds = time.monotonic() - tic
    row = {"epoch": run.fractional_epoch, "step": run.step, "top1_err": raw["top1_err"],
           "top5_err": raw["top5_err"], "ema_top1_err": avg["top1_err"],
           "ema_top5_err": avg["top5_err"], "dead_fraction": raw["dead_fraction"]}
    run.last_eval = row
    err = min(raw["top1_err"], avg["top1_err"]) if run.ema is not None else raw["top1_err"]
    improved = err < run.best_err
    run.best_err = min(run.best_err, err)
    run_state.save_run(run, best=improved)
    io.saved_at = time.monotonic()
    averaged = (f" | averaged {avg['top1_err']:.2%} / {avg['top5_err']:.2%}"
                if run.ema is not None else "")
    io.progress.message(
        f"eval step {run.step} (epoch {run.fractional_epoch:.2f}): top-1 err "
        f"{raw['top1_err']:.2%} top-5 err {raw['top5_err']:.2%}{averaged} | dead "
        f"{raw['dead_fraction']:.2%}")
    if io.evals is not None:
        io.evals.write(row)
        plot_curves(Path(cfg.out))


def summary(run: Run, io: Io, stop: str, wall: float) -> dict:
    out = Path(run.config.out)
    return {
        **run.last_eval, "stopped": stop, "steps": run.step,
        "epochs": run.fractional_epoch, "best_top1_err": run.best_err,
        "images_per_s": io.session_images / max(io.session_seconds, 1e-9),
        "train_seconds": run.seconds, "wall_seconds": wall, "world_size": run.dist.world,
        "skipped_per_epoch": io.skipped_per_epoch, "out": str(out),
        "checkpoint": run.last_checkpoint, "curves": str(out / "curves.png"),
        "stop_signal": io.stop.name if stop == "preempted" else None,
        "stopped_checkpoint": io.stopped_at,
    }


def _say(d: Dist, text: str) -> None:
    if d.main:
        print(text, flush=True)
