"""Keras applications' ``InceptionResNetV2`` weights: layers by position, as Keras loads them.

Keras names most layers of its Inception-ResNet-v2 automatically (``conv2d_17``,
``batch_normalization_17``) with numbers that depend on what else the session built, and
Keras 3's ``.weights.h5`` keeps no layer names at all: ``layers/conv2d_17/vars/0`` is the
kernel of the 18th Conv2D in the model's layer order, whatever that layer was called. Keras
itself loads both its legacy HDF5 and its ``.weights.h5`` by position in ``model.layers``, and
so do we: every weight is renamed ``"<Class>[k]/<weight>"`` (the k-th layer of that class in
the file's layer order, k from 0) and :func:`keras_key_map` walks our model in that order.

The order is the one Keras' ``Functional`` gives the graph built in
``keras/src/applications/inception_resnet_v2.py``: layers by depth, deepest (farthest from the
output) first, ties in the order of a traversal from the output, which takes a concatenation's
inputs in branch order. The network is a chain of blocks, so for one block: its convolutions
by their distance to the block's concatenation, farthest first, ties by branch; then the
residual up-projection (``block35_k_conv`` …); the stem and ``conv_7b`` are chains.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from torch import nn

from ..layers import ConvBN

# Keras 3 stores each layer's variables as vars/0, vars/1, …: trainable ones first.
_CLASSES = {"conv2d": "Conv2D", "batch_normalization": "BatchNormalization", "dense": "Dense"}
_VARS = {
    "Conv2D": {1: ("kernel",), 2: ("kernel", "bias")},
    "Dense": {1: ("kernel",), 2: ("kernel", "bias")},
    # 3 variables: scale=False, as every BatchNormalization of Keras' InceptionResNetV2
    "BatchNormalization": {3: ("beta", "moving_mean", "moving_variance"),
                           4: ("gamma", "beta", "moving_mean", "moving_variance")},
}
_AUTO_NAME = re.compile(r"(conv2d|batch_normalization|dense)(_\d+)?")
# Keras applications' InceptionResNetV2 (include_top=True): 203 conv-BN units, 40 residual
# up-projections and conv_7b; 204 BatchNormalization layers; the "predictions" Dense.
IRV2_LAYERS = {"Conv2D": 244, "BatchNormalization": 204}
_BN_LEAF = {"bn.weight": "gamma", "bn.bias": "beta", "bn.running_mean": "moving_mean",
            "bn.running_var": "moving_variance"}


def to_torch_layout(arr: np.ndarray) -> torch.Tensor:
    """A Keras weight in PyTorch layout: conv kernels HWIO → OIHW, Dense [in, out] → [out, in]."""
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 4:
        arr = arr.transpose(3, 2, 0, 1)
    elif arr.ndim == 2:
        arr = arr.T
    return torch.from_numpy(np.ascontiguousarray(arr))


def _unit_gamma(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keras' BatchNormalization(scale=False) computes with gamma = 1: store that, so our BN
    (which has a scale) gets exactly it."""
    for key in [k for k in out if k.startswith("BatchNormalization[") and k.endswith("/beta")]:
        out.setdefault(key[:-len("beta")] + "gamma", torch.ones_like(out[key]))
    return out


def read_keras3_weights(f: Any) -> dict[str, torch.Tensor]:
    """Keras 3 ``.weights.h5`` (an open h5py File: ``layers/<class>[_k]/vars/<i>``) as
    positional names, in PyTorch layout."""
    out = {}
    for group, layer in f["layers"].items():
        variables = layer.get("vars")
        if variables is None or len(variables) == 0:
            continue
        snake, k = re.fullmatch(r"(.+?)(?:_(\d+))?", group).groups()
        cls = _CLASSES.get(snake, snake)
        names = _VARS.get(cls, {}).get(len(variables)) or [str(i) for i in range(len(variables))]
        for i, name in enumerate(names):
            out[f"{cls}[{int(k or 0)}]/{name}"] = to_torch_layout(variables[str(i)][()])
    return _unit_gamma(out)


def is_auto_named(named: dict[str, torch.Tensor]) -> bool:
    """Whether legacy HDF5 weights (``"<layer>/<weight>"``) have Keras' automatic names."""
    return any(_AUTO_NAME.fullmatch(k.rpartition("/")[0]) for k in named)


def _legacy_class(weights: dict[str, torch.Tensor]) -> str:
    if "moving_mean" in weights:
        return "BatchNormalization"
    kernel = weights.get("kernel")
    if kernel is not None and kernel.dim() in (2, 4):
        return "Conv2D" if kernel.dim() == 4 else "Dense"
    return "Other"


def positional(named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Legacy HDF5 weights ``"<layer>/<weight>"``, in the file's layer order, renamed
    ``"<Class>[k]/<weight>"`` by position (the class told by the weights a layer has)."""
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in named.items():
        layer, _, weight = key.rpartition("/")
        layers.setdefault(layer, {})[weight] = t
    counts: dict[str, int] = {}
    out = {}
    for weights in layers.values():
        cls = _legacy_class(weights)
        k = counts.get(cls, 0)
        counts[cls] = k + 1
        out.update({f"{cls}[{k}]/{w}": t for w, t in weights.items()})
    return _unit_gamma(out)


def keras_fits(keys: set[str]) -> str:
    """The registry name positional Keras weights belong to; a ValueError otherwise."""
    counts = {cls: sum(k.startswith(f"{cls}[") and k.endswith(f"/{w}") for k in keys)
              for cls, w in (("Conv2D", "kernel"), ("BatchNormalization", "moving_mean"))}
    if counts != IRV2_LAYERS:
        raise ValueError(f"Keras weights with {counts['Conv2D']} Conv2D and "
                         f"{counts['BatchNormalization']} BatchNormalization layers: only Keras "
                         f"applications' InceptionResNetV2 ({IRV2_LAYERS['Conv2D']} and "
                         f"{IRV2_LAYERS['BatchNormalization']}) is supported")
    return "inception_resnet_v2"


def _block_order(block: nn.Module) -> list[str]:
    """A block's convolution paths in Keras' layer order (see the module docstring)."""
    if isinstance(block, ConvBN):
        return [""]
    units = []  # (ConvBN units from here to the concatenation, branch, path)
    for b, branch in enumerate(block.branches):
        chain = list(branch) if isinstance(branch, nn.Sequential) else [branch]
        for k, m in enumerate(chain):
            if isinstance(m, ConvBN):
                depth = sum(isinstance(x, ConvBN) for x in chain[k:])
                path = f"branches.{b}.{k}" if isinstance(branch, nn.Sequential) else f"branches.{b}"
                units.append((-depth, b, path))
    project = ["project"] if isinstance(getattr(block, "project", None), nn.Conv2d) else []
    return [path for *_, path in sorted(units)] + project


def keras_order(model: nn.Module) -> list[str]:
    """Our convolution modules (conv-BN units and residual up-projections) in Keras' order."""
    paths = [f"stem.{n}" for n, m in model.stem.named_children() if isinstance(m, ConvBN)]
    for s, stage in enumerate(model.stages):
        for i, block in enumerate(stage):
            paths += [f"stages.{s}.{i}" + (f".{p}" if p else "") for p in _block_order(block)]
    return paths


def keras_key_map(model: nn.Module) -> dict[str, str | None]:
    """Each of our state-dict keys → its positional Keras name (None: Keras has none)."""
    names = {"head.fc.weight": "Dense[0]/kernel", "head.fc.bias": "Dense[0]/bias"}
    n_bn = 0
    for n_conv, path in enumerate(keras_order(model)):
        conv = f"Conv2D[{n_conv}]"
        if path.endswith(".project"):
            names[f"{path}.weight"], names[f"{path}.bias"] = f"{conv}/kernel", f"{conv}/bias"
            continue
        names[f"{path}.conv.weight"] = f"{conv}/kernel"
        names.update({f"{path}.{ours}": f"BatchNormalization[{n_bn}]/{theirs}"
                      for ours, theirs in _BN_LEAF.items()})
        n_bn += 1
    return {k: names.get(k) for k in model.state_dict()}
