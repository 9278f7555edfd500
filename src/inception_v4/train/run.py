"""A training run: all of its state in one place (:class:`Run`), how it starts
(:func:`start_run`: data, network, optimiser, resume, logs) and how it ends
(:func:`close_run`). What a checkpoint saves of it: :mod:`inception_v4.checkpoint.run_state`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from .. import checkpoint
from ..data import ImageDataset, shutdown_workers
from . import distributed
from .build import (
    build_parts,
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
from .ema import ModelEma
from .loaders import eval_loader, train_loader
from .preempt import StopRequest
from .records import (
    EVAL_COLUMNS,
    METRICS_COLUMNS,
    CsvLog,
    Progress,
    Window,
    tensorboard_writer,
    write_config_json,
)
from .schedule import schedule_notes


@dataclass
class Run:
    """Everything a training run holds: what it trains, where it is (what a checkpoint saves),
    and what it reads and writes (set by :func:`start_run`)."""

    # what it trains
    config: TrainConfig
    dist: Dist
    net: nn.Module                 # the bare network: checkpoints, averaging, evaluation
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ModelEma | None
    steps_per_epoch: int
    wrapped: nn.Module | None = None  # net under DDP / torch.compile: what a step calls
    normalizer: nn.Module | None = None  # uint8 batches → network input, on the device
    record: dict = field(default_factory=dict)  # classes, preprocessing, pretrained origin
    # where it is: every checkpoint saves it, a resume restores it
    step: int = 0                  # optimiser steps done
    epoch: int = 0
    position: int = 0              # batches consumed in the current epoch
    seconds: float = 0.0           # training wall time so far (without evaluation)
    best_err: float = math.inf
    skipped: int = 0               # unreadable training images skipped this epoch
    last_eval: dict = field(default_factory=dict)
    last_checkpoint: str | None = None
    checkpoint_step: int = 0       # the step last_checkpoint was written at
    nonfinite: torch.Tensor | None = None  # on the device: [first bad step or -1, its loss]
    # what it reads and writes
    total_steps: int = 0
    train_loader: DataLoader | None = None
    batches: Iterator | None = None  # the current epoch's batches of train_loader
    val_loader: DataLoader | None = None
    progress: Progress | None = None
    metrics: CsvLog | None = None  # metrics.csv (rank 0)
    evals: CsvLog | None = None    # eval.csv (rank 0)
    stop: StopRequest = field(default_factory=StopRequest)
    # this session only
    resumed_from: Path | None = None
    window: Window = field(default_factory=Window)
    saved_at: float = field(default_factory=time.monotonic)
    stopped_at: str | None = None  # the checkpoint written when a stop signal came
    skipped_per_epoch: list[int] = field(default_factory=list)
    session_images: int = 0
    session_seconds: float = 0.0
    eval_seconds: float = 0.0      # how long the last evaluation took (for the ETA)

    @property
    def fractional_epoch(self) -> float:
        return self.step / self.steps_per_epoch


def build_run(config: TrainConfig, d: Dist, net: nn.Module, steps_per_epoch: int) -> Run:
    """A run of ``net`` at step 0: set up to train, with its optimiser, scaler and average."""
    return Run(config, d, *build_parts(net, config, d), steps_per_epoch)


def start_run(config: TrainConfig, d: Dist, stop: StopRequest,
              command: list[str] | None) -> Run:
    """Open the data, build the network and the optimiser, resume from a checkpoint where
    there is one, open the logs and write ``config.json``: a run ready for its next step."""
    configure_cuda(d.device, config.deterministic)
    train_ds, val_ds = open_splits(config)
    found = checkpoint.find_resume(config.resume, config.out)
    start = start_network(config, train_ds.classes, found.state if found else None)
    config = resolve_amp(start.config, d.device)  # the network arguments of --pretrained
    for note in start.notes:
        say(d, note)
    normalizer = set_transforms(train_ds, val_ds, start.record["data_config"])
    per_rank = per_rank_batch(config, d)
    loader = train_loader(train_ds, per_rank, d.rank, d.world, config.seed, config.workers,
                          pin_memory=d.device.type == "cuda")
    run = build_run(config, d, start.net, loader.sampler.steps_per_epoch())
    run.normalizer = normalizer.to(d.device)
    for note in schedule_notes(config):
        say(d, f"note: {note}")
    run.record, run.stop = start.record, stop
    run.resumed_from = resume(run, found)
    run.wrapped = wrap_model(run.net, config, d)
    open_io(run, loader, val_ds)
    if d.main:
        write_config_json(Path(config.out), to_dict(config), command, {
            "world_size": d.world, "device": str(d.device), "num_classes": train_ds.num_classes,
            "classes": train_ds.classes, "train_images": len(train_ds), "val_images": len(val_ds),
            "steps_per_epoch": run.steps_per_epoch, "per_rank_batch": per_rank,
            "resumed_from": str(run.resumed_from) if run.resumed_from else None,
            "data_config": start.record["data_config"], "pretrained": start.record["pretrained"]})
    return run


def resume(run: Run, found: checkpoint.Resume | None) -> Path | None:
    """Continue from ``found`` (``checkpoint.find_resume``: damaged newer files reported and
    set aside); returns its path, None for a fresh start."""
    cfg, d = run.config, run.dist
    if found is None:
        return None
    for path, why in found.damaged:
        say(d, f"damaged checkpoint {path}: {why}; set aside as {path.name}.damaged, "
               f"trying the previous one")
    changed = checkpoint.restore_run(run, found.path, found.state)
    low, high = distributed.all_min_max(run.step, d)
    if low != high:
        raise RuntimeError(f"the ranks resumed from different steps ({low:.0f} to {high:.0f}): "
                           f"{cfg.out} must be on a file system every node shares")
    if d.main:
        checkpoint.tidy_after_resume(cfg.out, found.path, run.step, found.damaged)
    saved_world = int(found.state["sampler"].get("world", d.world))
    notes = [f"changed: {', '.join(changed)}"] if changed else []
    if saved_world != d.world:
        notes.append(f"{d.world} processes instead of {saved_world}: the same global batches"
                     + ("" if cfg.sync_bn else "; batch-norm statistics are per rank without "
                        "--sync-bn, so the run differs slightly from one that did not change"))
    if found.unverified:
        notes.append("no checksum in this file (an earlier version's): loaded unverified")
    note = f" ({'; '.join(notes)})" if notes else ""
    say(d, f"resuming from {found.path} at step {run.step}, epoch {run.epoch}{note}")
    return found.path


def open_io(run: Run, loader: DataLoader, val_ds: ImageDataset) -> None:
    """The loaders, the progress bar and, on rank 0, ``metrics.csv`` and ``eval.csv`` (a
    resumed run keeps their rows up to its step)."""
    cfg, d = run.config, run.dist
    total = math.ceil(cfg.epochs * run.steps_per_epoch)
    run.total_steps = min(total, cfg.max_steps) if cfg.max_steps > 0 else total
    run.train_loader = loader
    run.val_loader = eval_loader(val_ds, max(cfg.batch_size // d.world, 1), d.rank, d.world,
                                 cfg.seed, cfg.workers, cfg.eval_max_images,
                                 pin_memory=d.device.type == "cuda")
    run.progress = Progress(d.main, run.total_steps, run.step)
    run.window.start_seconds = run.seconds
    if d.main:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        keep = run.step if run.resumed_from else None
        tb = tensorboard_writer(out)
        run.metrics = CsvLog(out / "metrics.csv", METRICS_COLUMNS, keep, tb)
        run.evals = CsvLog(out / "eval.csv", EVAL_COLUMNS, keep, tb)


def close_run(run: Run) -> None:
    """Loader workers first (a failed run must exit: ``data.shutdown_workers``), then the
    progress bar and the logs."""
    for loader in (run.train_loader, run.val_loader):
        if loader is not None:
            shutdown_workers(loader)
    run.batches = None
    if run.progress is not None:
        run.progress.close()
    for log in (run.metrics, run.evals):
        if log is not None:
            log.close()
    if run.metrics is not None and run.metrics.tensorboard is not None:
        run.metrics.tensorboard.close()


def say(d: Dist, text: str) -> None:
    """Print ``text`` on rank 0."""
    if d.main:
        print(text, flush=True)
