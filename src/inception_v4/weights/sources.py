"""Reading weights: files and folders to tensors, and what kind of weights they are.

The file format is told by its first bytes (HDF5, zip or pickle from ``torch.save``,
safetensors), never by the extension alone; the naming convention by the keys inside.
Pickles are only ever read with ``torch.load(..., weights_only=True)``
(:func:`inception_v4.checkpoint.files.torch_load`).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..checkpoint.as_weights import strip_wrappers
from ..checkpoint.files import torch_load
from .keras_apps import is_auto_named, keras_fits, positional, read_keras3_weights, to_torch_layout

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_TAG = "inception_v4"  # config["format"] of folders written by save_pretrained
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_FOLDER_FILES = (WEIGHTS_NAME, "pytorch_model.bin", "model.pth", "model.pt")


@dataclass
class Weights:
    """Tensors read from a source, the naming convention, and our config if it has one."""

    tensors: dict[str, torch.Tensor]
    convention: str  # "ours", "timm", "facenet-pytorch", "keras-facenet", "keras-applications"
    path: Path
    config: dict[str, Any] | None = None
    fits: str | None = None  # the registry name these weights look like they belong to
    notes: list[str] = field(default_factory=list)


def sniff(path: Path) -> str:
    """The container format of a file from its first bytes: hdf5, torch-zip, pickle or
    safetensors; a ValueError naming what was found otherwise."""
    with open(path, "rb") as f:
        head = f.read(16)
    size = path.stat().st_size
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] < size:
        return "safetensors"
    if path.suffix in _PICKLE_SUFFIXES:  # old pickle protocols have no magic; still weights_only
        return "pickle"
    raise ValueError(
        f"{path}: unrecognised weights file (first bytes {head[:8]!r}); expected safetensors, "
        f"a torch.save file (.pth/.bin) or a Keras HDF5 file (.h5)")


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """A plain ``{name: tensor}`` dict from a state dict or a training checkpoint."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path}: expected a state dict (a dict of tensors, possibly under "
                         f"'state_dict' or 'model'), got {type(obj).__name__}")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path}: no tensors found (keys: {list(obj)[:5]})")
    return strip_wrappers(tensors)


def read_keras_h5(path: Path) -> dict[str, torch.Tensor]:
    """Every weight of a Keras HDF5 file, already in PyTorch layout (conv kernels HWIO → OIHW,
    Dense kernels [in, out] → [out, in]): as ``"<layer>/<weight>"`` (``:0`` dropped) for named
    layers (FaceNet); by position, ``"<Class>[k]/<weight>"``, for Keras 3's ``.weights.h5`` and
    for legacy files with Keras' automatic layer names (see :mod:`.keras_apps`)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in group.attrs and "layers" in group:
            return read_keras3_weights(group)
        for layer in group.attrs.get("layer_names", []):
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            for wname in group[layer].attrs.get("weight_names", []):
                wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                short = wname.rsplit("/", 1)[-1].split(":")[0]
                out[f"{layer}/{short}"] = to_torch_layout(group[layer][wname][()])
    if not out:
        raise ValueError(f"{path}: HDF5 file without Keras weights (no 'layer_names' attribute "
                         f"and no Keras 3 'layers' group)")
    return positional(out) if is_auto_named(out) else out


def _read_file(path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    """(tensors, the model a training checkpoint's config names, or None)."""
    kind = sniff(path)
    if kind == "hdf5":
        return read_keras_h5(path), None
    if kind == "safetensors":
        from safetensors.torch import load_file

        return load_file(str(path)), None
    obj = torch_load(path)
    config = obj.get("config") if isinstance(obj, dict) else None
    saved = config.get("model") if isinstance(config, dict) else None
    return _unwrap(obj, path), saved if isinstance(saved, str) else None


def identify(tensors: dict[str, torch.Tensor]) -> tuple[str, str | None]:
    """(naming convention, registry name the weights fit) from the keys."""
    keys = set(tensors)
    if any(k.startswith(("stem.", "stages.")) for k in keys):
        return "ours", None
    if "Block35_1_Conv2d_1x1/kernel" in keys or "Conv2d_4b_3x3/kernel" in keys:
        return "keras-facenet", "inception_resnet_v1_facenet"
    if "conv2d_4b.conv.weight" in keys:
        return "facenet-pytorch", "inception_resnet_v1_facenet"
    if "features.0.conv.weight" in keys:
        return "timm", "inception_v4"
    if "conv2d_1a.conv.weight" in keys:
        return "timm", "inception_resnet_v2"
    if "Conv2D[0]/kernel" in keys:
        return "keras-applications", keras_fits(keys)
    if any("/" in k for k in keys):
        raise ValueError("Keras HDF5 weights in an unsupported layout (first layers: "
                         f"{sorted(keys)[:3]}); supported: FaceNet's Inception-ResNet-v1 and "
                         f"Keras applications' InceptionResNetV2")
    raise ValueError(f"unrecognised state dict (keys like {sorted(keys)[:3]}); supported: our "
                     f"save_pretrained format, timm/Cadene inception_v4 and "
                     f"inception_resnet_v2, facenet-pytorch, FaceNet Keras HDF5, Keras "
                     f"applications' InceptionResNetV2")


def _folder_file(folder: Path) -> Path:
    for name in _FOLDER_FILES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: no weights file in this folder (looked for "
                            f"{', '.join(_FOLDER_FILES)})")


def read_config_file(path: Path) -> dict[str, Any] | None:
    """Our config.json as a dict; None when the file is someone else's config."""
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    return cfg if isinstance(cfg, dict) and cfg.get("format") == FORMAT_TAG else None


def read_weights(path: str | Path) -> Weights:
    """Read our folder (or its config.json / model.safetensors), or one weights file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.name == CONFIG_NAME and path.is_file():
        path = path.parent
    folder = path if path.is_dir() else path.parent
    config = None
    if (folder / CONFIG_NAME).is_file() and (path.is_dir() or path.name == WEIGHTS_NAME):
        config = read_config_file(folder / CONFIG_NAME)
    file = _folder_file(path) if path.is_dir() else path
    tensors, saved = _read_file(file)
    convention, fits = identify(tensors)
    if convention == "ours" and config is not None:
        fits = config.get("model")
    elif convention == "ours" and saved is not None:  # a training checkpoint names its model
        fits = saved
    return Weights(tensors, convention, file, config, fits)
