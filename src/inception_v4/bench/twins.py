"""Contestants: our network and timm's same network, holding the same weights.

timm is a benchmark-only dependency: it is imported inside these functions, never at module
level. timm's weights go into our model through the weights package's importer
(``inception_v4.weights.load_pretrained``, from a temporary safetensors file); if that is
unavailable, tensors are copied in state-dict order with every shape checked. Either way the
two models' eval outputs are then compared, so a benchmark never races two different
networks.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ..weights import load_pretrained

# Our registry names that timm implements under the same name.
TIMM_NAMES = ("inception_v4", "inception_resnet_v2")


def timm_available() -> bool:
    try:
        import timm  # noqa: F401
    except ImportError:
        return False
    return True


def timm_twin(name: str, ours: nn.Module, drop_rate: float,
              image_size: int = 299) -> nn.Module | None:
    """timm's ``name`` with its weights copied into ``ours``; None if timm lacks ``name``."""
    if name not in TIMM_NAMES or not timm_available():
        return None
    import timm

    theirs = timm.create_model(name, num_classes=ours.num_classes, drop_rate=drop_rate)
    share_weights(ours, theirs)
    check_same_outputs(ours, theirs, image_size)
    return theirs


def share_weights(ours: nn.Module, theirs: nn.Module) -> str:
    """Load ``theirs``' state dict into ``ours``; returns how (importer or copy by order)."""
    state = {k: v.detach().contiguous() for k, v in theirs.state_dict().items()}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "timm.safetensors"
            save_file(state, str(path))
            load_pretrained(ours, path)
        return "inception_v4.weights.load_pretrained"
    except (ImportError, ValueError):
        copy_by_order(ours, state)
        return "copy in state-dict order"


@torch.no_grad()
def copy_by_order(ours: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy tensors pairwise in state-dict order (both list conv, BN, … in forward order)."""
    mine = [(k, v) for k, v in ours.state_dict().items() if not k.endswith("num_batches_tracked")]
    theirs = [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]
    if len(mine) != len(theirs):
        raise ValueError(f"cannot pair weights: {len(mine)} tensors in ours, {len(theirs)} in "
                         f"timm's")
    for (k, dst), (src_key, src) in zip(mine, theirs, strict=True):
        if dst.shape != src.shape:
            raise ValueError(f"cannot pair weights: {k} {tuple(dst.shape)} vs timm's {src_key} "
                             f"{tuple(src.shape)}")
        dst.copy_(src)


@torch.no_grad()
def check_same_outputs(ours: nn.Module, theirs: nn.Module, image_size: int = 299) -> float:
    """Largest |difference| of the two eval-mode outputs, relative to their scale; raises
    ValueError above 1e-4 (the two would not be the same network)."""
    a, b = copy.deepcopy(ours).eval(), copy.deepcopy(theirs).eval()
    x = torch.randn(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    ya, yb = a(x), b(x)
    rel = float((ya - yb).abs().max() / yb.abs().max().clamp_min(1e-12))
    if rel > 1e-4:
        raise ValueError(f"ours and timm's outputs differ by {rel:.2e} (relative) with shared "
                         f"weights: they are not the same network")
    return rel


def channels_last(model: nn.Module) -> nn.Module:
    """A copy of ``model`` stored NHWC."""
    return copy.deepcopy(model).to(memory_format=torch.channels_last)
