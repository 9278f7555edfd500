"""A training checkpoint read back as weights: ``checkpoints/last.pt`` / ``best.pt`` or a run
folder, for :func:`inception_v4.weights.resolve_model` (which rebuilds the network from the
saved config: its name and the ``ModelArgs`` fields it sets, with the number of classes read
off the classifier). Class names come from the checkpoint or else the run's ``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .files import torch_load
from .run_state import check_format

RUN_CHECKPOINT = Path("checkpoints") / "last.pt"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def is_training_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "config" in obj


def _is_torch_save(path: Path) -> bool:
    """A ``torch.save`` file by its first bytes: a zip archive or a pickle."""
    with open(path, "rb") as f:
        head = f.read(2)
    return head == b"PK" or (head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5)


def read_training_checkpoint(source: str | Path) -> tuple[Path, dict] | None:
    """``(path, checkpoint)`` when ``source`` is a training checkpoint or a run folder
    (``RUN/checkpoints/last.pt``); None for anything else. A pickle holding code is refused
    (ValueError), never run; so is a checkpoint of a newer format."""
    path = Path(source)
    if path.is_dir() and (path / RUN_CHECKPOINT).is_file():
        path = path / RUN_CHECKPOINT
    if not path.is_file() or path.suffix not in CHECKPOINT_SUFFIXES or not _is_torch_save(path):
        return None
    obj = torch_load(path)
    if not is_training_checkpoint(obj):
        return None
    check_format(obj, path)
    return path, obj


def strip_wrappers(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without the ``module.`` (DataParallel/DDP) and ``_orig_mod.`` (torch.compile)
    prefixes that every key carries."""
    for prefix in ("module.", "_orig_mod."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


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
