"""Our weights format (``config.json`` + ``model.safetensors``) and loading from any source.

Sources :func:`load_pretrained` reads, told apart by content (magic bytes, then key names):

* a folder written by :func:`save_pretrained`, or its ``config.json`` / ``model.safetensors``;
* timm / Cadene ``inception_v4`` and ``inception_resnet_v2`` state dicts (``.safetensors``,
  ``.pth``, ``.bin``; plain or under ``"state_dict"`` / ``"model"``). TF-slim's 1001-class
  heads load into a 1001-class model as they are; into a 1000-class model the background
  row 0 is dropped, which leaves the standard ImageNet class order (``docs/checkpoints.md``);
* facenet-pytorch ``InceptionResnetV1`` state dicts (512-d: ``num_classes=512``); its BN
  scales must be 1 (our FaceNet model has none) and its training classifier ``logits`` is
  dropped;
* FaceNet's Keras HDF5 (``facenet_keras.h5``) for ``inception_resnet_v1_facenet``;
* Keras applications' ``InceptionResNetV2`` weights (Keras 3 ``.weights.h5``, legacy ``.h5``
  full-model or weights-only) for ``inception_resnet_v2``, matched by layer position as Keras
  does (:mod:`.keras_apps`); its BN has no scale, so ours gets gamma = 1;
* ``"timm:NAME"`` / ``"hf-hub:ORG/NAME"`` through huggingface_hub, when reachable.

Pickles are read with ``torch.load(weights_only=True)`` only. The auxiliary head, which no
foreign source has, keeps its initialisation (with a warning).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import nn

from .._version import __version__
from ..models.preprocessing import pool_size
from .card import model_card
from .hub import is_hub_source, resolve_hub
from .layouts import CADENE_HEAD, LAYOUTS
from .mapping import Layout, Remapped, head_source_key, mismatch_message, remap
from .sources import CONFIG_NAME, FORMAT_TAG, WEIGHTS_NAME, Weights, read_weights

log = logging.getLogger(__name__)


def _network(model: nn.Module) -> nn.Module:
    """The :class:`Network` inside a ``features_only`` wrapper, or the model itself."""
    inner = getattr(model, "model", None)
    net = inner if inner is not None and hasattr(inner, "spec") else model
    if not hasattr(net, "spec") or not hasattr(net, "init_args"):
        raise ValueError(f"expected a model from inception_v4.create_model (it has .spec and "
                         f".init_args), got {type(model).__name__}")
    return net


def save_pretrained(model: nn.Module, directory: str | Path, source: str | None = None) -> Path:
    """Write ``config.json`` (model name, constructor arguments, preprocessing, library
    version; ``source`` is recorded as ``converted_from``), ``model.safetensors`` and a
    ``README.md`` model card: the Hugging Face hub layout."""
    net = _network(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    # safetensors' save_file creates the file with mode 0600; written here it gets the
    # usual mode (0644 under umask 022), like the other files of the folder
    (directory / WEIGHTS_NAME).write_bytes(save(state, metadata={"format": "pt"}))
    config = {
        "format": FORMAT_TAG, "format_version": 1, "model": net.spec.name,
        "init_args": net.init_args, "pretrained_cfg": getattr(net, "pretrained_cfg", {}),
        "num_classes": net.num_classes, "num_features": net.num_features,
        "head": net.spec.head,  # "classifier", or "embedding" (FaceNet: num_classes-d vectors)
        "library_version": __version__,
    }
    if source is not None:
        config["converted_from"] = str(source)
    with open(directory / CONFIG_NAME, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    params = sum(p.numel() for p in net.parameters())
    (directory / "README.md").write_text(model_card(config, params), encoding="utf-8")
    return directory


def _cfg_from_json(cfg: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples a ``pretrained_cfg`` holds."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}


def read_config(directory: str | Path) -> dict[str, Any]:
    """Our ``config.json`` from a folder (or the path of the file itself)."""
    path = Path(directory)
    path = path if path.name == CONFIG_NAME else path / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected a folder written by "
                                f"save_pretrained")
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT_TAG:
        raise ValueError(f"{path} was not written by inception_v4.save_pretrained "
                         f"(no \"format\": \"{FORMAT_TAG}\")")
    return cfg


def resolve_source(source: str | Path) -> Path:
    return resolve_hub(source) if is_hub_source(source) else Path(source)


def layout_for(w: Weights, name: str) -> Layout | None:
    """How the source names our model's tensors (None: our own names)."""
    if w.convention == "ours":
        return None
    layout = LAYOUTS.get((w.convention, name))
    if layout is None:
        raise ValueError(f"{w.path} holds {w.convention} weights for {w.fits}; the model is "
                         f"{name}, which has no {w.convention} counterpart. Create the model "
                         f"as {w.fits!r}.")
    if layout.head.get("fc") == "classif" and "last_linear.weight" in w.tensors:
        layout = dataclasses.replace(layout, head=CADENE_HEAD)  # Cadene's name for it
    return layout


def _drop_unit_bn_scale(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """facenet-pytorch stores BN gammas that its converter set to 1; ours has no gamma."""
    scales = [k for k in tensors if k.endswith("bn.weight")]
    bad = [k for k in scales if not torch.allclose(tensors[k], torch.ones_like(tensors[k]))]
    if bad:
        raise ValueError(f"{path}: BatchNorm scales {bad[:3]} are not 1, but "
                         f"inception_resnet_v1_facenet has BN without learned scale")
    for k in scales + [k for k in list(tensors) if k.startswith("logits.")]:
        del tensors[k]


def _hint(w: Weights, net: nn.Module, r: Remapped) -> str:
    hints = []
    if w.fits and w.fits != net.spec.name:
        hints.append(f"the weights look like {w.fits} weights but the model is "
                     f"{net.spec.name}; create the model as {w.fits!r}.")
    if any(k.startswith("head.") for k in r.wrong_shape):
        hints.append(f"the classifier differs (model num_classes={net.num_classes}): create "
                     f"the model with the source's num_classes, then reset_classifier(n).")
    if w.config and w.config.get("init_args") != net.init_args:
        hints.append(f"the folder was saved from {w.config.get('model')} with "
                     f"{w.config.get('init_args')}; load_model() rebuilds that model.")
    return " ".join(hints)


def _optional(key: str, has_aux: bool, has_head: bool) -> bool:
    return (key.endswith("num_batches_tracked") or (key.startswith("aux_head.") and not has_aux)
            or (key.startswith("head.") and not has_head))


def load_weights(model: nn.Module, w: Weights) -> nn.Module:
    """Load already-read weights into ``model``; a ValueError naming the keys that do not fit."""
    net = _network(model)
    tensors = dict(w.tensors)
    if w.convention == "facenet-pytorch" and not net.spec.bn_scale:
        _drop_unit_bn_scale(tensors, w.path)
    has_aux = any(k.startswith("aux_head.") for k in tensors)
    if not any(k.startswith("aux_head.") for k in net.state_dict()) and has_aux:
        warnings.warn(f"{w.path}: the model has no auxiliary head; its weights are not loaded",
                      stacklevel=3)
        tensors = {k: v for k, v in tensors.items() if not k.startswith("aux_head.")}
    layout = layout_for(w, net.spec.name)
    # A file without a classifier (Keras include_top=False, a features-only export) loads
    # into the body; the model's head keeps its initialisation, as timm does for a new head.
    has_head = head_source_key(layout) in tensors
    r = remap(net, tensors, layout, lambda k: _optional(k, has_aux, has_head))
    if r.missing or r.unexpected or r.wrong_shape:
        what = f"{w.path} ({w.convention} weights) into {net.spec.name}"
        raise ValueError(mismatch_message(r, what, _hint(w, net, r)))
    result = net.load_state_dict(r.state, strict=False)
    if any(k.startswith("aux_head.") for k in result.missing_keys):
        warnings.warn(f"{w.path} has no auxiliary head weights; the model's aux head keeps "
                      f"its random initialisation", stacklevel=3)
    if any(k.startswith("head.") for k in result.missing_keys):
        warnings.warn(f"{w.path} has no classifier weights (a headless file, e.g. Keras "
                      f"include_top=False); the model's head keeps its random initialisation: "
                      f"fine-tune it, or create the model with num_classes=0 for features",
                      stacklevel=3)
    for note in r.notes:
        log.info("%s: %s", w.path, note)
    if w.config and isinstance(w.config.get("pretrained_cfg"), dict):
        net.pretrained_cfg = _saved_cfg(net, w.config["pretrained_cfg"])
    return model


def _saved_cfg(net: nn.Module, saved: dict[str, Any]) -> dict[str, Any]:
    """The saved preprocessing over the model's own cfg (older files lack ``pool_size`` and
    the timm keys); ``pool_size`` follows the saved ``input_size``."""
    cfg = {**net.pretrained_cfg, **_cfg_from_json(saved)}
    cfg.update(pool_size=pool_size(int(cfg["input_size"][-1])), num_classes=net.num_classes)
    return cfg


def load_pretrained(model: nn.Module, source: str | Path) -> nn.Module:
    """Load weights from ``source`` (see the module docstring) into ``model``, in place.

    Returns ``model``. Raises FileNotFoundError for a missing file (or an unreachable hub)
    and ValueError naming the missing, unexpected and wrongly shaped keys on a mismatch.
    """
    return load_weights(model, read_weights(resolve_source(source)))


def infer_num_classes(w: Weights, layout: Layout | None) -> int | None:
    """The source's classifier/embedding width, read off its head tensor (None: it has
    none)."""
    key = head_source_key(layout)
    t = w.tensors.get(key) if key else None
    return None if t is None else int(t.shape[0])
