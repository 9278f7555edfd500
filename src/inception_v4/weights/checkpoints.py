"""Training checkpoints (``checkpoints/last.pt`` / ``best.pt``) and run folders as weights.

A training checkpoint is a dict with ``"model"`` (a state dict), ``"config"`` (the run's
``TrainConfig`` as a dict) and optionally ``"ema"`` (the averaged model, ``{"module": ...}``).
The network is rebuilt from the config (name, width, depth, residual scale, residual, aux
head, dropout) with the number of classes read off the classifier; the run folder's
``config.json`` supplies the class names. Read with ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .sources import Weights, _torch_load, sniff

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


def model_from_checkpoint(path: Path, ckpt: dict, *, name: str | None = None,
                          ema: bool = False) -> nn.Module:
    """The checkpoint's network (or the averaged one with ``ema``), loaded, in eval mode;
    ``pretrained_cfg`` carries ``label_names`` and the ``input_size`` the run trained at.
    ``name``, when given, must agree with the model the checkpoint names."""
    from ..models import create_model
    from .pretrained import load_weights

    cfg = ckpt["config"] if isinstance(ckpt["config"], dict) else {}
    saved = cfg.get("model")
    if name and saved and name != saved:
        raise ValueError(f"model {name!r} asked for, but {path} is a checkpoint of {saved}; "
                         f"drop the model name (the checkpoint says what it is)")
    name = name or saved
    if name is None:
        raise ValueError(f"{path}: the checkpoint's config names no model; pass the model name")
    if ema and not ckpt.get("ema"):
        raise ValueError(f"{path} holds no averaged weights (trained with ema_decay=0?); "
                         f"load it without ema")
    state = checkpoint_state(ckpt["ema"] if ema else ckpt["model"])
    if "head.fc.weight" not in state:
        raise ValueError(f"{path}: no classifier (head.fc.weight) in the checkpoint of {name}; "
                         f"it is not a classification model")
    args = {k: cfg[k] for k in ARG_KEYS if k in cfg}
    model = create_model(name, num_classes=int(state["head.fc.weight"].shape[0]), **args)
    load_weights(model, Weights(state, "ours", path, None, name))
    extra: dict[str, Any] = {}
    if cfg.get("image_size"):
        size = int(cfg["image_size"])
        extra["input_size"] = (model.pretrained_cfg["input_size"][0], size, size)
    classes = ckpt.get("classes") or cfg.get("classes") or run_classes(path)
    if classes:
        extra["label_names"] = tuple(str(c) for c in classes)
    model.pretrained_cfg = {**model.pretrained_cfg, **extra}
    return model.eval()
