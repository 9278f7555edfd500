"""Starting a run from pretrained weights (``train --pretrained SOURCE``).

The weights are read by the one resolver (:func:`inception_v4.weights.resolve_model`), so
every source it reads works here: our folder, a run folder or training checkpoint (``ema``:
its averaged weights), timm/Cadene, facenet-pytorch, FaceNet and Keras-applications files,
``timm:NAME`` and ``hf-hub:ORG/NAME``. The network and its constructor arguments come from
the weights (:func:`adopt`); the image size too, unless the config sets another one. The
head follows the data (:func:`fit_head`): kept when the data's classes are the weights'
classes, replaced otherwise. :func:`freeze` stops training the stem and the first stages
(their BatchNorm statistics stay as the weights have them). :func:`origin` is what every
checkpoint records of the start: the source, its SHA-256 and what happened to the head.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint.as_weights import RUN_CHECKPOINT
from ..evaluate.classes import class_mismatch
from ..models import Network
from ..models.model_args import ARCHITECTURE
from ..weights import resolve_model
from ..weights.pretrained import resolve_source
from ..weights.sources import WEIGHTS_NAME
from .config import TrainConfig, check_freeze

# The config fields that fix the network: they come from the weights (as on resume).
ARCH_FIELDS = ("model", *(k for k in ARCHITECTURE if k in {f.name for f in fields(TrainConfig)}))


def load(config: TrainConfig, classes: list[str]) -> Network:
    """The network ``config.pretrained`` holds, loaded (eval mode), with its own head. A
    1001-class TF-slim head meeting 1000 classes drops the background row (the resolver's
    rule, asked for with ``num_classes=1000``)."""
    name = config.model or None
    net = resolve_model(config.pretrained, name=name, ema=config.pretrained_ema)
    if net.num_classes == 1001 and len(classes) == 1000 and not _names(net):
        net = resolve_model(config.pretrained, name=name, ema=config.pretrained_ema,
                            num_classes=1000)
    return net


def architecture(net: Network) -> dict[str, Any]:
    """The values of :data:`ARCH_FIELDS` the network was built with."""
    return {"model": net.spec.name, **{k: net.init_args[k] for k in ARCH_FIELDS[1:]}}


def adopt(config: TrainConfig, arch: dict[str, Any], image_size: int,
          source: str) -> TrainConfig:
    """``config`` with the weights' network arguments (``arch``) and, where the config keeps
    the default, their image size. ``model`` "" is the weights' network; a named one, or
    another field set to another value than both the default and the weights', is an error
    naming both: the weights cannot serve another network or shape."""
    default, values, bad = TrainConfig(), {}, []
    for key in ARCH_FIELDS:
        mine, theirs = getattr(config, key), arch[key]
        if mine == theirs:
            continue
        if (mine == "") if key == "model" else (mine == getattr(default, key)):
            values[key] = theirs
        else:
            bad.append(f"{key}={mine!r} (the weights have {key}={theirs!r})")
    if bad:
        raise ValueError(f"--pretrained {source} cannot serve {', '.join(bad)}: the network's "
                         f"shape comes from its weights; drop these settings, or train from "
                         f"scratch without --pretrained")
    if config.image_size == default.image_size:
        values["image_size"] = int(image_size)
    return dataclasses.replace(config, **values)


def _names(net: Network) -> list[str] | None:
    names = net.pretrained_cfg.get("label_names")
    return [str(n) for n in names] if names else None


def fit_head(net: Network, classes: list[str], seed: int) -> tuple[str, str]:
    """Keep the classifier when the data's classes are the weights' (the count, and the names
    where the weights carry them: ``evaluate.classes.class_mismatch``, the check evaluation
    uses), else a new one, seeded by ``seed`` (the auxiliary classifier too). Returns
    ``("kept" | "replaced", the sentence saying so)``."""
    have, want, names = net.num_classes, len(classes), _names(net)
    if net.spec.head == "embedding":
        why = f"its {have}-d embedding is not a classifier"
    elif have != want:
        why = f"it has {have} classes, the data {want}"
    else:
        why = class_mismatch(names, have, classes)
    net.pretrained_cfg = {**net.pretrained_cfg, "label_names": tuple(classes)}
    if why is None:
        basis = "the same names" if names else "the weights carry no names; the same count"
        return "kept", f"head: the weights' {have}-class classifier is kept ({basis})"
    torch.manual_seed(seed)
    net.reset_classifier(want)
    return "replaced", (f"head: a new {want}-class classifier replaces the weights' "
                        f"{have}-output head ({why})")


def freeze(net: Network, spec: str) -> str | None:
    """Stop training the stem and the first N stages (``stages:N``) or all of them
    (``features``): no gradients, and their BatchNorm layers normalise with the weights'
    statistics and never update them. Returns the sentence saying what is frozen."""
    count = check_freeze(spec)
    if count is None:
        return None
    stages = len(net.stages)
    if count > stages:
        raise ValueError(f"freeze={spec}: {net.spec.name} has {stages} stages after the stem; "
                         f"use stages:0 (the stem) to stages:{stages}, or features")
    count = stages if count < 0 else count
    parts = [net.stem, *list(net.stages)[:count]]
    for part in parts:
        for p in part.parameters():
            p.requires_grad_(False)
        for m in part.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.register_forward_pre_hook(_keep_eval)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return (f"frozen: the stem and {count} of {stages} stages ({trainable:,d} parameters "
            f"left to train)")


def _keep_eval(module: nn.Module, args: tuple) -> None:
    """A frozen BatchNorm normalises with its running statistics, in training too."""
    module.training = False


def source_digest(source: str) -> str:
    """SHA-256 of the file the weights were read from (a folder: its weights file; a run
    folder: its ``checkpoints/last.pt``; a hub source: the cached download)."""
    path = Path(resolve_source(source))
    if path.is_dir():
        run = path / RUN_CHECKPOINT
        path = run if run.is_file() else path / WEIGHTS_NAME
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def origin(config: TrainConfig, net: Network, head: str) -> dict[str, Any]:
    """What the run started from, as every checkpoint records it."""
    return {"source": config.pretrained, "sha256": source_digest(config.pretrained),
            "ema": config.pretrained_ema, "kind": getattr(net, "weights_kind", None),
            "network": net.spec.name, "head": head}
