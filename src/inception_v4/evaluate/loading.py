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

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import create_model
from ..weights.checkpoints import model_from_checkpoint, read_training_checkpoint
from ..weights.hub import is_hub_source
from ..weights.pretrained import infer_num_classes, layout_for, load_weights, resolve_source
from ..weights.sources import read_weights


def load_for_eval(name: str | None, weights: str | Path, *, ema: bool = False,
                  device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode on device, info)``; info: ``model``, ``weights``, ``classes``
    (names the weights carry, or None). Training checkpoints and run folders go through
    :func:`inception_v4.weights.load_model`'s checkpoint reader."""
    checkpoint = None if is_hub_source(weights) else read_training_checkpoint(weights)
    if checkpoint is not None:
        model = model_from_checkpoint(*checkpoint, name=name, ema=ema)
    elif ema:
        raise ValueError(f"--ema needs a training checkpoint with averaged weights; {weights} "
                         f"is a plain weights file or folder (its weights are used as they are)")
    else:
        model = _from_weights(name, weights)
    model = model.to(device).eval()
    classes = model.pretrained_cfg.get("label_names")
    return model, {"model": model.spec.name, "weights": str(weights),
                   "classes": list(classes) if classes else None}


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
