"""A model ready for evaluation from whatever ``--weights`` names, and class names.

``W`` is one of

* a training run folder (``--out`` of ``inception-v4 train``): its ``checkpoints/last.pt``;
* a training checkpoint file (a dict with ``"model"`` and ``"config"``, optionally ``"ema"``):
  the network name, width, depth, residual scale, head and input size come from its config,
  the number of classes from its classifier, class names from the run's ``config.json``;
  ``ema=True`` loads the averaged weights;
* our folder (``config.json`` + ``model.safetensors``) or anything else
  ``create_model(pretrained=...)`` reads (timm/Cadene files, ``timm:NAME``, ...).

A ``--model`` name that contradicts what the weights say they are is an error, not a guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import create_model
from ..weights.pretrained import infer_num_classes, layout_for, load_weights, resolve_source
from ..weights.sources import Weights, read_weights

RUN_CHECKPOINT = Path("checkpoints") / "last.pt"
_ARG_KEYS = ("width", "depth", "residual_scale", "residual", "aux_logits", "drop_rate",
             "in_chans")


def load_for_eval(name: str | None, weights: str | Path, *, ema: bool = False,
                  device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode on device, info)``; info: ``model``, ``weights``, ``classes``
    (names the weights carry, or None)."""
    checkpoint = _training_checkpoint(weights)
    if checkpoint is not None:
        model, classes = _from_checkpoint(name, *checkpoint, ema=ema)
    elif ema:
        raise ValueError(f"--ema needs a training checkpoint with averaged weights; {weights} "
                         f"is a plain weights file or folder (its weights are used as they are)")
    else:
        model, classes = _from_weights(name, weights), None
    model = model.to(device).eval()
    return model, {"model": model.spec.name, "weights": str(weights), "classes": classes}


def _training_checkpoint(weights: str | Path) -> tuple[Path, dict] | None:
    """``(path, checkpoint dict)`` when ``weights`` is a training checkpoint or run folder."""
    path = Path(weights)
    if path.is_dir() and (path / RUN_CHECKPOINT).is_file():
        path = path / RUN_CHECKPOINT
    if not path.is_file() or path.suffix not in (".pt", ".pth", ".ckpt"):
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not a checkpoint; read_weights will say what it is
        return None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "config" in obj:
        return path, obj
    return None


def _state(obj: Any) -> dict[str, torch.Tensor]:
    """A state dict from ``ckpt["model"]`` or ``ckpt["ema"]`` (``{"module": ...}``)."""
    if isinstance(obj, dict) and isinstance(obj.get("module"), dict):
        obj = obj["module"]
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in ("module.", "_orig_mod."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def _from_checkpoint(name: str | None, path: Path, ckpt: dict,
                     ema: bool) -> tuple[nn.Module, list[str] | None]:
    cfg = ckpt["config"] if isinstance(ckpt["config"], dict) else {}
    saved = cfg.get("model")
    if name and saved and name != saved:
        raise ValueError(f"--model {name} but {path} is a checkpoint of {saved}; drop --model "
                         f"(the checkpoint says what it is) or pass {saved} weights")
    name = name or saved
    if name is None:
        raise ValueError(f"{path}: the checkpoint's config names no model; pass --model NAME")
    if ema and not ckpt.get("ema"):
        raise ValueError(f"{path} holds no averaged weights (trained with ema_decay=0?); "
                         f"drop --ema")
    state = _state(ckpt["ema"] if ema else ckpt["model"])
    if "head.fc.weight" not in state:
        raise ValueError(f"{path}: no classifier (head.fc.weight) in the checkpoint; it is not "
                         f"a classification model")
    args = {k: cfg[k] for k in _ARG_KEYS if k in cfg}
    model = create_model(name, num_classes=int(state["head.fc.weight"].shape[0]), **args)
    load_weights(model, Weights(state, "ours", path, None, name))
    if cfg.get("image_size"):
        size = int(cfg["image_size"])
        model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, size, size)}
    classes = ckpt.get("classes") or cfg.get("classes") or _run_classes(path)
    return model, list(classes) if classes else None


def _run_classes(checkpoint: Path) -> list[str] | None:
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


def _from_weights(name: str | None, source: str | Path) -> nn.Module:
    """Our folder rebuilds its own model; a plain state dict needs ``name``; foreign files
    fit the model they belong to (or the named one, which must match)."""
    w = read_weights(resolve_source(source))
    if w.config is not None:
        saved = w.config.get("model")
        if name and saved and name != saved:
            raise ValueError(f"--model {name} but {source} holds {saved} weights (its "
                             f"config.json says so); drop --model or pass {name} weights")
        model = create_model(saved, **w.config.get("init_args", {}))
    elif w.convention == "ours":
        if name is None:
            raise ValueError(f"{source} is a plain state dict without config.json; pass "
                             f"--model NAME")
        head = w.tensors.get("head.fc.weight")
        model = create_model(name, num_classes=None if head is None else int(head.shape[0]))
    else:
        name = name or w.fits
        model = create_model(name, num_classes=infer_num_classes(w, layout_for(w, name)))
    return load_weights(model, w)


def imagenet_classes(num_classes: int) -> list[str] | None:
    """ImageNet class names from torchvision's weights metadata: 1000, or 1001 with
    "background" at index 0 (TF-slim); None for any other count."""
    if num_classes not in (1000, 1001):
        return None
    from torchvision.models import ResNet50_Weights

    names = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    return names if num_classes == 1000 else ["background"] + names


def class_names(num_classes: int, own: list[str] | None = None) -> list[str]:
    """ImageNet names for 1000/1001 classes; otherwise the dataset's or checkpoint's own
    names when their count fits; otherwise ``class 0``, ``class 1``, ..."""
    names = imagenet_classes(num_classes)
    if names is not None:
        return names
    if own is not None and len(own) == num_classes:
        return list(own)
    return [f"class {i}" for i in range(num_classes)]
