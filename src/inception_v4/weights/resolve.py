"""The one resolver: "a ``--weights`` argument" → the model it holds, loaded.

Every entry point that takes weights (``create_model(pretrained=)``, timm's
``pretrained=True``, ``load_model``, ``convert``, ``evaluate``, ``predict``, ``ensemble``,
``export``) calls :func:`resolve_model`, so one set of rules and messages applies everywhere
(``load_pretrained`` loads into a model you built, under it). What ``source`` may be, in the
order it is recognised:

1. a training checkpoint (``checkpoints/last.pt``, ``best.pt``: a dict with ``"model"`` and
   ``"config"``) or a run folder (``RUN/checkpoints/last.pt``): the run's network, rebuilt from
   its config, with the class names of the run; ``ema=True`` takes the averaged weights;
2. our folder (``config.json`` + ``model.safetensors``, :func:`save_pretrained`): the network
   its config names, with its constructor arguments;
3. a state dict in our names without a config: the network ``name`` says (required);
4. a foreign state dict or Keras file (timm/Cadene, facenet-pytorch, FaceNet's Keras HDF5,
   Keras applications), or ``timm:NAME`` / ``hf-hub:ORG/NAME``: the network its keys fit.

``name``, when given, must agree with what the weights say they are: a conflict is an error,
never a guess. ``ema=True`` on anything but a training checkpoint is an error.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..checkpoint.as_weights import checkpoint_state, read_training_checkpoint, run_classes
from ..checkpoint.integrity import check_part
from ..models import (
    FeatureExtractor,
    ModelArgs,
    Network,
    build_network,
    get_spec,
    network_from_args,
)
from ..models.preprocessing import pool_size
from .hub import is_hub_source
from .pretrained import infer_num_classes, layout_for, load_weights, resolve_source
from .sources import CONFIG_NAME, Weights, read_weights


def resolve_model(source: str | Path, *, name: str | None = None, ema: bool = False,
                  num_classes: int | None = None, args: ModelArgs | None = None) -> Network:
    """The model ``source`` holds (module docstring), loaded, in eval mode.

    ``num_classes``: 1000 asked of a 1001-class TF-slim head drops the background class; any
    other count that differs from the weights' puts a new, freshly initialised head on it.
    ``args`` (with ``name``; ``create_model(pretrained=)``, timm): build the network with these
    constructor arguments instead of the ones the weights record, and load the weights into
    it as they are (a mismatch names the keys); ``args.num_classes`` None: the weights' own.
    """
    if args is not None:
        if name is None or ema:
            raise ValueError("args= builds the named network: pass name=, without ema")
        w = read_weights(resolve_source(source))
        if args.num_classes is None:
            args = replace(args, num_classes=_classes_to_build(w, name, num_classes))
        model, kind = load_weights(network_from_args(name, args), w), f"{w.convention} weights"
    elif (checkpoint := None if is_hub_source(source) else read_training_checkpoint(source)):
        model = from_checkpoint(*checkpoint, name=name, ema=ema)
        kind = "training checkpoint, " + ("averaged weights" if ema else "raw weights")
    elif ema:
        raise ValueError(f"--ema (ema=True) needs a training checkpoint (checkpoints/last.pt "
                         f"or a run folder) with averaged weights; {source} is a plain weights "
                         f"file or folder, whose weights are used as they are: drop --ema")
    else:
        w = read_weights(resolve_source(source))
        model, kind = _from_weights(w, name, num_classes), f"{w.convention} weights"
    model.weights_kind = kind  # what the source was, for messages (not saved)
    if num_classes is not None and num_classes != model.num_classes:
        warnings.warn(f"{source} has {model.num_classes} classes: a new {num_classes}-class "
                      f"head, freshly initialised, replaces its classifier (to be trained)",
                      stacklevel=2)
        model.reset_classifier(num_classes)
    return model.eval()


def _check_name(name: str | None, saved: str | None, source: Path) -> str:
    if name:
        get_spec(name)  # an unknown name: say so, listing the known ones
    if name and saved and name != saved:
        raise ValueError(f"model {name!r} asked for, but {source} holds {saved} weights; drop "
                         f"the model name (the weights say what they are) or pass {name} "
                         f"weights")
    if not (name or saved):
        raise ValueError(f"{source}: a state dict in our names without config.json does not "
                         f"say which network it is; pass the model name (--model NAME)")
    return name or saved  # type: ignore[return-value]


def _from_weights(w: Weights, name: str | None, num_classes: int | None) -> Network:
    """Our folder rebuilds its own model; a plain state dict needs ``name``; foreign files
    fit the model they belong to (or the named one, which must match)."""
    if w.config is not None:
        model = network_from_args(_check_name(name, w.config.get("model"), w.path),
                                  ModelArgs(**w.config.get("init_args", {})))
    else:
        name = _check_name(name, w.fits, w.path) if w.convention == "ours" else name or w.fits
        n = _classes_to_build(w, name, num_classes)
        model = build_network(name, num_classes=0 if n is None else n)  # headless: features
    return load_weights(model, w)


def _classes_to_build(w: Weights, name: str, wanted: int | None) -> int | None:
    """The weights' classifier width (None: they have none), except that a 1001-class
    TF-slim head loads as 1000 classes when 1000 are ``wanted`` (the background row is
    dropped on loading, ``mapping.py``)."""
    n = infer_num_classes(w, layout_for(w, name))
    return 1000 if (wanted, n) == (1000, 1001) else n


def from_checkpoint(path: Path, ckpt: dict, *, name: str | None = None,
                    ema: bool = False) -> Network:
    """The checkpoint's network (or the averaged one with ``ema``), loaded; ``pretrained_cfg``
    carries ``label_names`` and the ``input_size`` the run trained at."""
    cfg = ckpt["config"] if isinstance(ckpt["config"], dict) else {}
    name = _check_name(name, cfg.get("model"), path)
    if ema and not ckpt.get("ema"):
        raise ValueError(f"{path} holds no averaged weights (trained with ema_decay=0?); "
                         f"load it without ema")
    check_part(ckpt, "ema" if ema else "model", path)
    state = checkpoint_state(ckpt["ema"] if ema else ckpt["model"])
    if "head.fc.weight" not in state:
        raise ValueError(f"{path}: no classifier (head.fc.weight) in the checkpoint of {name}; "
                         f"it is not a classification model")
    args = ModelArgs.pick({**cfg, "num_classes": int(state["head.fc.weight"].shape[0])})
    model = network_from_args(name, args)
    load_weights(model, Weights(state, "ours", path, None, name))
    extra: dict[str, Any] = {}
    if cfg.get("image_size"):
        size = int(cfg["image_size"])
        extra["input_size"] = (model.pretrained_cfg["input_size"][0], size, size)
        extra["pool_size"] = pool_size(size)
    if isinstance(ckpt.get("data_config"), dict):  # the run's preprocessing (train/build.py)
        extra.update(ckpt["data_config"])
    classes = ckpt.get("classes") or cfg.get("classes") or run_classes(path)
    if classes:
        extra["label_names"] = tuple(str(c) for c in classes)
    model.pretrained_cfg = {**model.pretrained_cfg, **extra}
    return model


def load_model(source: str | Path, *, ema: bool = False, features_only: bool = False,
               out_indices: tuple[int, ...] = (0, 1, 2, 3, 4)) -> nn.Module:
    """A model rebuilt and loaded, in eval mode, from anything :func:`resolve_model` reads:
    our folder, a training checkpoint or run folder (``ema=True``: the averaged weights), a
    foreign weights file (its model and number of classes are read off its keys).
    ``features_only``: its feature maps at ``out_indices`` (as ``create_model``'s)."""
    model = resolve_model(source, ema=ema)
    return FeatureExtractor(model, out_indices).eval() if features_only else model


def carries_network(source: str | Path) -> bool:
    """Whether ``source`` says which network it holds, constructor arguments included (our
    folder, a training checkpoint or its run folder): its width and depth come from it."""
    if is_hub_source(source):
        return False
    path = Path(source)
    return (path / CONFIG_NAME).is_file() or read_training_checkpoint(path) is not None


def describe(model: nn.Module, source: str | Path) -> dict[str, Any]:
    """``model``, ``weights``, ``kind`` (what :func:`resolve_model` found) and ``classes``
    (the names the weights carry, or None)."""
    classes = model.pretrained_cfg.get("label_names")
    return {"model": model.spec.name, "weights": str(source),
            "kind": getattr(model, "weights_kind", None),
            "classes": list(classes) if classes else None}
