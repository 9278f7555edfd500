"""A checkpoint's checksum: :func:`seal` records the SHA-256 of every entry and of them all
(:func:`state_digest`: every tensor's dtype, shape and bytes, every value, in order);
:func:`integrity_problem` says why a loaded file no longer matches it. Files without one
(an earlier version's, another program's) are read as they are."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

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
