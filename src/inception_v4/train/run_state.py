"""The run state a training checkpoint holds: written atomically, read with
``torch.load(weights_only=True)`` (reading one as weights: ``weights.training_checkpoint``).

A checkpoint is a dict of tensors and plain Python values only (no pickled objects), so
loading never executes code: model and averaged-model state, optimiser and grad-scaler
state, progress (step, epoch, position within the epoch, training seconds, best error), the
sampler state (seed, epoch, position) and the RNG states (as tensors), and the config.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .config import to_dict

if TYPE_CHECKING:
    from .loop import Run

LAST, BEST = "last.pt", "best.pt"


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (no space, no permission, ...); the previous one
    is left as it was. The message names the file, the reason and what to do."""


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, rename over ``path``.

    A failure removes the temporary file and raises :class:`CheckpointWriteError`; ``path``
    keeps its previous content. Temporary files of killed writers are removed first."""
    _write_atomic(path, lambda f: torch.save(obj, f))


def copy_atomic(src: Path, dst: Path) -> None:
    def copy(f: Any) -> None:
        with open(src, "rb") as source:
            shutil.copyfileobj(source, f)

    _write_atomic(dst, copy)


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.tmp*"):  # left by a killed writer
            stale.unlink(missing_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        kept = (f"the previous {path.name} is intact" if path.is_file()
                else f"no earlier {path.name} exists")
        raise CheckpointWriteError(
            err.errno, f"cannot write checkpoint {path}: {err.strerror or err} ({kept}); free "
            f"disk space or fix the folder's permissions, then rerun with --resume auto") \
            from err
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """A checkpoint written by :func:`save_atomic`; never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"refused to load {path}: it holds Python objects other than tensors, "
                         f"and unpickling them could run arbitrary code ("
                         f"{str(err).splitlines()[0]})") from None
    except (RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is not a readable checkpoint ({str(err).splitlines()[0]}); "
                         f"delete it to start over, or pass another with --resume") from None


def find_resume(resume: str, out: str | Path) -> Path | None:
    """The checkpoint to continue from: ``auto`` → ``OUT/checkpoints/last.pt`` if present,
    ``never`` → None, anything else → that path (which must exist)."""
    if resume == "never":
        return None
    if resume == "auto":
        last = checkpoint_dir(out) / LAST
        return last if last.is_file() else None
    path = Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint; use auto, never or "
                                "the path of a .pt file")
    return path


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
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


# Fields a resumed run must share with the checkpoint (they fix shapes, order or optimiser).
MUST_MATCH = ("model", "width", "depth", "residual_scale", "aux_logits", "optimizer",
              "batch_size", "seed", "image_size")


def snapshot(run: Run) -> dict[str, Any]:
    """Everything needed to continue ``run`` exactly, as tensors and plain values."""
    cfg = run.config
    return {
        "format": 1,
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
        "config": to_dict(cfg),
    }


def save_run(run: Run, best: bool = False) -> Path:
    """Write ``last.pt`` (and copy it to ``best.pt``); rank 0 only. Returns the path."""
    directory = checkpoint_dir(run.config.out)
    last = directory / LAST
    if run.dist.main:
        save_atomic(snapshot(run), last)
        if best:
            copy_atomic(last, directory / BEST)
    run.last_checkpoint, run.checkpoint_step = str(last), run.step
    return last


def restore_run(run: Run, path: Path) -> list[str]:
    """Load ``path`` into ``run``; returns the config fields that differ (allowed ones)."""
    state = load(path, run.dist.device)
    saved = state["config"]
    changed = [k for k, v in to_dict(run.config).items() if saved.get(k, v) != v]
    bad = [k for k in changed if k in MUST_MATCH]
    if bad:
        raise ValueError(f"cannot resume from {path}: it was trained with "
                         + ", ".join(f"{k}={saved[k]!r}" for k in bad)
                         + "; use the same settings or --resume never")
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
    if run.position >= run.steps_per_epoch:
        run.epoch, run.position, run.skipped = run.epoch + 1, 0, 0
    set_rng_state(state["rng"])
    run.last_checkpoint, run.checkpoint_step = str(path), run.step
    return changed
