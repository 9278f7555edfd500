"""Checkpoint files: the one safe ``torch.load``, atomic writes, the newest K kept, and the
newest good one found again.

``OUT/checkpoints/`` holds ``step-00000017.pt`` for each of the last ``keep_checkpoints``
checkpointed steps, ``last.pt`` (the newest) and ``best.pt`` (the best so far), both hard
links to a step file (copies where the file system has no links), and ``*.pt.damaged``: files
``--resume auto`` found damaged, set aside for inspection and never read again.

A file that is truncated, does not load, or no longer matches its checksum
(:mod:`.integrity`) is damaged: the resume reports it (file and reason) and takes the next
older one. Nothing is deleted but step files older than the K newest, and only after a newer
one was written.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .integrity import integrity_problem

LAST, BEST = "last.pt", "best.pt"
_STEP_FILE = re.compile(r"step-(\d+)\.pt")


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def step_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:08d}.pt"


def step_files(directory: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the step files in ``directory``, newest first."""
    found = []
    for path in directory.glob("step-*.pt") if directory.is_dir() else []:
        match = _STEP_FILE.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


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


def link_atomic(src: Path, dst: Path) -> None:
    """``dst`` becomes a hard link to ``src`` (atomically); a copy where links fail."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        for stale in dst.parent.glob(f".{dst.name}.tmp*"):  # left by a killed writer
            stale.unlink(missing_ok=True)
        os.link(src, tmp)
        os.replace(tmp, dst)
    except OSError:
        tmp.unlink(missing_ok=True)
        copy_atomic(src, dst)
        return
    _fsync_dir(dst.parent)


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
        previous = path if path.is_file() else path.with_name(LAST)
        kept = (f"the previous {previous.name} is intact" if previous.is_file()
                else "no earlier checkpoint exists")
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



def torch_load(path: Path, device: torch.device | str = "cpu") -> Any:
    """``torch.load(weights_only=True)``, the only way a pickle is read (weights and training
    checkpoints alike): a file holding other Python objects is refused, never run."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"refused to load {path}: it holds Python objects other than tensors, and "
            f"unpickling them could run arbitrary code (torch.load weights_only=True said: "
            f"{str(err).splitlines()[0]}). Re-save only the state dict, ideally as "
            f".safetensors, from a copy you trust.") from None
    except (EOFError, IndexError, KeyError, RuntimeError, ValueError) as err:  # not a pickle
        raise ValueError(
            f"{path}: unrecognised weights file, not a readable torch.save file "
            f"({type(err).__name__}); expected safetensors, a torch.save file (.pth/.bin) or "
            f"a Keras HDF5 file (.h5)") from None

def load(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """A checkpoint written by :func:`save_atomic`; never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch_load(path, device)  # a pickle holding code: refused, never run
    except Exception as err:  # noqa: BLE001 - a damaged file can make torch.load raise anything
        if str(err).startswith("refused to load"):
            raise
        size = path.stat().st_size if path.is_file() else 0
        raise ValueError(f"{path} is not a readable checkpoint ({size} bytes; "
                         f"{str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         f"delete it to start over, or pass another with --resume") from None


def load_checked(path: Path, device: torch.device | str = "cpu") -> dict:
    """:func:`load`, then the checksum: ValueError naming the file and what is wrong."""
    state = load(path, device)
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a training checkpoint (it holds a "
                         f"{type(state).__name__}, not a dict)")
    problem = integrity_problem(state)
    if problem is not None:
        raise ValueError(f"{path} is damaged: {problem}")
    return state


def newest_good(directory: Path, device: torch.device | str = "cpu"
                ) -> tuple[Path | None, dict | None, list[tuple[Path, str]]]:
    """The newest checkpoint in ``directory`` that loads and matches its checksum:
    ``(path, state, damaged)``, where ``damaged`` lists ``(file, reason)`` of the newer ones
    passed over. The step files are tried newest first; ``last.pt`` only when there are
    none (a run written before step files existed)."""
    candidates = [p for _, p in step_files(directory)]
    if not candidates and (directory / LAST).is_file():
        candidates = [directory / LAST]
    damaged: list[tuple[Path, str]] = []
    for path in candidates:
        try:
            return path, load_checked(path, device), damaged
        except (ValueError, FileNotFoundError) as err:
            damaged.append((path, _reason(err, path)))
    return None, None, damaged


def _reason(err: Exception, path: Path) -> str:
    text = str(err)
    for prefix in (f"{path} is damaged: ", f"{path} is "):
        if text.startswith(prefix):
            return text[len(prefix):].split("; delete it")[0]
    return text.split("; delete it")[0]


def set_aside(path: Path) -> Path:
    """Rename a damaged file to ``NAME.damaged`` (kept for inspection, never read again)."""
    target = path.with_name(path.name + ".damaged")
    os.replace(path, target)
    return target


def prune(directory: Path, keep: int, newest: int) -> list[Path]:
    """Delete step files older than the ``keep`` newest up to step ``newest`` (which was just
    written); later steps (another attempt's) are left alone. Returns what was deleted."""
    older = [p for step, p in step_files(directory) if step <= newest][max(keep, 1):]
    for path in older:
        path.unlink(missing_ok=True)
    return older


def tidy_after_resume(out: str | Path, resumed: Path, step: int,
                      damaged: list[tuple[Path, str]]) -> list[Path]:
    """Rank 0, after a resume from ``resumed`` (at ``step``): damaged files set aside as
    ``*.damaged``, step files of later steps (an abandoned attempt's) as ``*.superseded``,
    and ``last.pt`` pointed at ``resumed``. Returns the files moved."""
    directory = checkpoint_dir(out)
    moved = [set_aside(p) for p, _ in damaged if p.is_file()]
    for later_step, path in step_files(directory):
        if later_step > step and path.resolve() != resumed.resolve():
            target = path.with_name(path.name + ".superseded")
            os.replace(path, target)
            moved.append(target)
    last = directory / LAST
    if resumed.parent.resolve() == directory.resolve() and resumed.name != LAST:
        link_atomic(resumed, last)
    return moved
