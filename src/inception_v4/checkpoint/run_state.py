"""The run state a training checkpoint holds, written by :func:`save_run` and put back by
:func:`restore_run` for an exact resume.

A checkpoint is a dict of tensors and plain Python values only (no pickled objects), so
loading never executes code: ``format`` (:data:`FORMAT`), model and averaged-model state,
optimiser and grad-scaler state, progress (step, epoch, position within the epoch, training
seconds, best error), the sampler state (seed, epoch, position) and the RNG states (as
tensors), the config, the run's record (class names, preprocessing, pretrained origin) and
its checksum (:mod:`.integrity`).

The functions take the training loop's ``Run`` (``inception_v4.train.run``) and read or set
only the fields named here, so this module does not import ``train``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.model_args import ARCHITECTURE
from . import files
from .integrity import integrity_problem, seal

FORMAT = 2  # the layout above; a file of a higher one is refused, one without is format 1


def check_format(state: dict, path: Path) -> None:
    """ValueError for a checkpoint written in a format this version does not read."""
    found = state.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool) or not 1 <= found <= FORMAT:
        raise ValueError(f"{path} is a training checkpoint of format {found!r}; this version "
                         f"of inception-v4 reads formats 1 to {FORMAT}: upgrade inception-v4, "
                         f"or pass another checkpoint")


@dataclass
class Resume:
    """A checkpoint to continue from, loaded and checked."""

    path: Path
    state: dict
    damaged: list[tuple[Path, str]] = field(default_factory=list)  # newer files passed over
    unverified: bool = False  # a --resume PATH without a checksum (an older file)


def find_resume(resume: str, out: str | Path) -> Resume | None:
    """The checkpoint to continue from, or None, loaded on the CPU whatever the run's device:
    ``load_state_dict`` copies each tensor to its parameter's device, and the RNG states
    must stay on the CPU (a CUDA tensor has no ``.numpy()``).

    ``auto``: the newest good one in ``OUT/checkpoints``, with the newer damaged ones passed
    over (file, reason); None when there is no checkpoint at all; ValueError when there are
    some but none is good. ``never``: None. A path: that file, which must exist and match its
    checksum when it records one (files of earlier versions, without one, are loaded)."""
    if resume == "never":
        return None
    if resume == "auto":
        path, state, damaged = files.newest_good(files.checkpoint_dir(out))
        if path is None and damaged:
            raise ValueError(
                f"cannot resume: no usable checkpoint in {files.checkpoint_dir(out)} ("
                + "; ".join(f"{p.name}: {why}" for p, why in damaged)
                + "). Pass --resume never to start over, or --resume PATH to use a file you "
                "trust (one without a checksum, written by an earlier version, loads that way)")
        if path is None:
            return None
        check_format(state, path)
        return Resume(path, state, damaged)
    path = Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint; use auto, never or "
                                "the path of a .pt file")
    state = files.load(path)
    problem = integrity_problem(state) if isinstance(state, dict) else "not a dict"
    if problem is not None and not problem.startswith("no checksum"):
        raise ValueError(f"--resume {resume}: {path} is damaged: {problem}; pass an older "
                         f"checkpoint (checkpoints/step-*.pt) or --resume never")
    check_format(state, path)
    return Resume(path, state, unverified=problem is not None)


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states as tensors and plain values."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, torch.tensor(words, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, words, gauss = state["python"]
    random.setstate((version, tuple(int(w) for w in words.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


# Config fields a resumed run must share with the checkpoint: the network (its name and every
# architecture field of ModelArgs), then what fixes the data order and the optimiser;
# batch_size too unless allow_batch_change (see restore_run).
MUST_MATCH = ("model", *ARCHITECTURE, "optimizer", "batch_size", "seed", "image_size",
              "freeze", "layer_decay")


def config_dict(config: Any) -> dict[str, Any]:
    """A ``TrainConfig`` as the plain dict a checkpoint holds."""
    return {f.name: getattr(config, f.name) for f in fields(config)}


def snapshot(run: Any) -> dict[str, Any]:
    """Everything needed to continue ``run`` exactly, as tensors and plain values."""
    cfg = run.config
    return {
        "format": FORMAT,
        "model": run.net.state_dict(),
        "ema": run.ema.state_dict() if run.ema is not None else None,
        "optimizer": run.optimizer.state_dict(),
        "scaler": run.scaler.state_dict(),
        "progress": {"step": run.step, "epoch": run.epoch, "position": run.position,
                     "seconds": run.seconds, "best_err": run.best_err, "skipped": run.skipped,
                     # so that resuming a finished run does not evaluate (and log) again
                     "last_eval": dict(run.last_eval)},
        "sampler": {"seed": cfg.seed, "epoch": run.epoch, "position": run.position,
                    "batch_size": cfg.batch_size, "world": run.dist.world},
        "rng": rng_state(),
        "config": config_dict(cfg),
        **run.record,  # the class names, the preprocessing, the pretrained source (build.py)
    }


def save_run(run: Any, best: bool = False) -> Path:
    """Write ``step-N.pt`` with its checksum, point ``last.pt`` (and ``best.pt``) at it and
    delete step files beyond the newest ``keep_checkpoints``; rank 0 only. Returns the
    step file's path."""
    directory = files.checkpoint_dir(run.config.out)
    path, last = files.step_path(directory, run.step), directory / files.LAST
    if run.dist.main:
        files.save_atomic(seal(snapshot(run)), path)
        files.link_atomic(path, last)
        if best:
            files.link_atomic(path, directory / files.BEST)
        files.prune(directory, run.config.keep_checkpoints, run.step)
    run.last_checkpoint, run.checkpoint_step = str(last), run.step
    return path


def restore_run(run: Any, path: Path, state: dict) -> list[str]:
    """Put ``state`` (loaded from ``path``) into ``run``; returns the config fields that
    differ (allowed ones). Another number of processes is fine (the data order is in global
    batches); another global batch size only with ``allow_batch_change``."""
    saved = state["config"]
    changed = [k for k, v in config_dict(run.config).items() if saved.get(k, v) != v]
    must = [k for k in MUST_MATCH if k != "batch_size" or not run.config.allow_batch_change]
    bad = [k for k in changed if k in must]
    if bad:
        hint = (" (global; the data order, the step count and the learning rate follow it: "
                "set allow_batch_change=true to continue with the new one anyway)"
                if "batch_size" in bad else "")
        raise ValueError(f"cannot resume from {path}: it was trained with "
                         + ", ".join(f"{k}={saved[k]!r}" for k in bad)
                         + f"{hint}; use the same settings or --resume never")
    run.net.load_state_dict(state["model"])
    if run.ema is not None and state["ema"] is not None:
        run.ema.load_state_dict(state["ema"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    p = state["progress"]
    run.step, run.epoch, run.position = int(p["step"]), int(p["epoch"]), int(p["position"])
    run.seconds, run.best_err, run.skipped = float(p["seconds"]), float(p["best_err"]), \
        int(p["skipped"])
    run.last_eval = dict(p.get("last_eval", {}))
    if "batch_size" in changed:  # the same images consumed, counted in new batches
        run.position = run.position * int(saved["batch_size"]) // run.config.batch_size
        run.step = run.epoch * run.steps_per_epoch + run.position
    # an epoch end whose evaluation was not done yet (a preempted run) is done on resuming
    if run.position >= run.steps_per_epoch and run.last_eval.get("step") == run.step:
        run.epoch, run.position, run.skipped = run.epoch + 1, 0, 0
    set_rng_state(state["rng"])
    run.last_checkpoint, run.checkpoint_step = str(path), run.step
    return changed
