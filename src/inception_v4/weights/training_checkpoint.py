"""A training checkpoint as weights: reading ``checkpoints/last.pt`` / ``best.pt`` and run
folders (the run state itself is written by :mod:`inception_v4.train.run_state`).

A training checkpoint is a dict with ``"model"`` (a state dict), ``"config"`` (the run's
``TrainConfig`` as a dict) and optionally ``"ema"`` (the averaged model, ``{"module": ...}``).
:func:`inception_v4.weights.resolve_model` rebuilds the network from the config (its name
and the ``ModelArgs`` fields it sets) with the number of classes read off the classifier;
the run folder's ``config.json`` supplies the class names. Read with
``torch.load(weights_only=True)`` only.

Checkpoints written by ``inception-v4 train`` carry ``"integrity"``: the SHA-256 of everything
else in the file (:func:`state_digest`: every tensor's dtype, shape and bytes, every value, in
order). A file whose contents no longer match it is refused (:func:`check_integrity`);
checkpoints without one (older ones, other programs') are read as they are.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from .sources import sniff, strip_wrappers, torch_load

RUN_CHECKPOINT = Path("checkpoints") / "last.pt"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


INTEGRITY = "integrity"


def state_digest(obj: Any) -> str:
    """SHA-256 (hex) of a checkpoint's contents: tensors by dtype, shape and bytes; dicts,
    lists and tuples element by element in order; other values by type and ``repr``."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}|".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__[0]}{len(obj)}|".encode())
        for value in obj:
            _feed(h, value)
    else:
        h.update(f"{type(obj).__name__}:{obj!r}|".encode())


def seal(state: dict) -> dict:
    """``state`` with ``"integrity"``: the digest of each entry (``parts``) and of them all."""
    parts = {str(k): state_digest(v) for k, v in state.items() if k != INTEGRITY}
    return {**state, INTEGRITY: {"sha256": state_digest(parts), "parts": parts}}


def integrity_problem(state: dict) -> str | None:
    """Why ``state`` (as loaded) fails its recorded checksum, or None when it matches."""
    record = state.get(INTEGRITY)
    if not (isinstance(record, dict) and isinstance(record.get("sha256"), str)
            and isinstance(record.get("parts"), dict)):
        return "no checksum (written before checkpoints carried one, or by another program)"
    parts = {str(k): state_digest(v) for k, v in state.items() if k != INTEGRITY}
    recorded = record["parts"]
    if state_digest(recorded) != record["sha256"]:
        return "checksum mismatch: its record of checksums is itself altered"
    changed = sorted(k for k in parts.keys() | recorded.keys()
                     if parts.get(k) != recorded.get(k))
    if changed:
        return (f"checksum mismatch in {', '.join(changed)}: the contents changed after it "
                f"was written (flipped, overwritten or missing bytes)")
    return None


def check_part(state: dict, key: str, path: Path) -> None:
    """ValueError when ``state[key]`` no longer matches the checksum recorded for it (files
    without checksums, or entries edited on purpose elsewhere in the file, pass)."""
    record = state.get(INTEGRITY)
    parts = record.get("parts") if isinstance(record, dict) else None
    if isinstance(parts, dict) and key in parts and state_digest(state.get(key)) != parts[key]:
        raise ValueError(f"{path} is damaged: its {key!r} tensors no longer match the checksum "
                         f"recorded when it was written (flipped or overwritten bytes); use "
                         f"another checkpoint (the run's checkpoints/step-*.pt) or retrain")


def is_training_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "config" in obj


def read_training_checkpoint(source: str | Path) -> tuple[Path, dict] | None:
    """``(path, checkpoint)`` when ``source`` is a training checkpoint or a run folder
    (``RUN/checkpoints/last.pt``); None for anything else. A pickle holding code is refused
    (ValueError), never run."""
    path = Path(source)
    if path.is_dir() and (path / RUN_CHECKPOINT).is_file():
        path = path / RUN_CHECKPOINT
    if not path.is_file() or path.suffix not in CHECKPOINT_SUFFIXES:
        return None
    try:
        kind = sniff(path)
    except ValueError:
        return None
    if kind not in ("torch-zip", "pickle"):
        return None
    obj = torch_load(path)
    return (path, obj) if is_training_checkpoint(obj) else None


def checkpoint_state(obj: Any) -> dict[str, torch.Tensor]:
    """A state dict from ``ckpt["model"]`` or ``ckpt["ema"]`` (``{"module": ...}``)."""
    if isinstance(obj, dict) and isinstance(obj.get("module"), dict):
        obj = obj["module"]
    return strip_wrappers({k: v for k, v in obj.items() if isinstance(v, torch.Tensor)})


def run_classes(checkpoint: Path) -> list[str] | None:
    """Class names from the run folder's ``config.json`` (``RUN/checkpoints/last.pt``)."""
    for candidate in (checkpoint.parent.parent / "config.json",
                      checkpoint.parent / "config.json"):
        try:
            record = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("classes"), list):
            return [str(c) for c in record["classes"]]
    return None
