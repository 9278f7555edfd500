"""A training checkpoint as weights: reading ``checkpoints/last.pt`` / ``best.pt`` and run
folders (the run state itself is written by :mod:`inception_v4.train.run_state`).

A training checkpoint is a dict with ``"model"`` (a state dict), ``"config"`` (the run's
``TrainConfig`` as a dict) and optionally ``"ema"`` (the averaged model, ``{"module": ...}``).
:func:`inception_v4.weights.resolve_model` rebuilds the network from the config (name, width,
depth, residual scale, residual, aux head, dropout) with the number of classes read off the
classifier; the run folder's ``config.json`` supplies the class names. Read with
``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .sources import _torch_load, sniff

RUN_CHECKPOINT = Path("checkpoints") / "last.pt"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
ARG_KEYS = ("width", "depth", "residual_scale", "residual", "aux_logits", "drop_rate",
            "in_chans")


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
    obj = _torch_load(path)
    return (path, obj) if is_training_checkpoint(obj) else None


def checkpoint_state(obj: Any) -> dict[str, torch.Tensor]:
    """A state dict from ``ckpt["model"]`` or ``ckpt["ema"]`` (``{"module": ...}``)."""
    if isinstance(obj, dict) and isinstance(obj.get("module"), dict):
        obj = obj["module"]
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in ("module.", "_orig_mod."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


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
