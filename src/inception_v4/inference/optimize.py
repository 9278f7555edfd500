"""``optimize_for_inference``: the one entry point to the fused, compiled and int8 graphs."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .compiled import CompiledInference
from .fused import DTYPES, fuse
from .int8 import has_vnni, quantize

INT8 = torch.int8
NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": INT8}


def inference_dtype(name: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"bfloat16"``/``"int8"`` (or the torch dtype) as a torch dtype."""
    if isinstance(name, torch.dtype) and name in (*DTYPES, INT8):
        return name
    if name in NAMES:
        return NAMES[name]
    raise ValueError(f"dtype must be one of {', '.join(NAMES)}, got {name!r}")


def optimize_for_inference(model: nn.Module, channels_last: bool = True,
                           dtype: str | torch.dtype = torch.float32, *, compile: bool = False,
                           calibration: Iterable[torch.Tensor] | None = None,
                           batch_size: int | None = None) -> nn.Module:
    """An eval-mode copy of ``model`` for fast inference; ``model`` is left untouched.

    * float32 / bfloat16, ``compile=False``: the fused graph (:func:`.fused.fuse`): BatchNorm
      folded in float64, ReLU and residual sums as oneDNN post-ops; bf16 takes and returns
      float32.
    * ``compile=True``: that graph compiled by inductor with freezing, channels-last, for one
      batch size (``batch_size``, default: the first call's; others run in chunks of it):
      a :class:`~.compiled.CompiledInference`. The first call compiles (tens of seconds on
      2 cores; inductor's on-disk cache makes a second start faster).
    * ``dtype="int8"`` (or ``torch.int8``): post-training static quantization of the fused
      float32 graph (:mod:`.int8`: PT2E, torchao's ``X86InductorQuantizer``), calibrated on
      ``calibration`` (batches of preprocessed images, a few hundred images), always
      compiled. Needs torchao.

    Each is tested against the unfused float32 model within its dtype's bound
    (:mod:`inception_v4.tolerances`).
    """
    dtype = inference_dtype(dtype)
    if dtype == INT8:
        if calibration is None:
            raise ValueError("int8 needs calibration images: pass calibration= (batches of "
                             "preprocessed images; the CLI: --calibration DATA)")
        graph = quantize(fuse(model, channels_last=False), calibration)
        out = CompiledInference(graph, model, batch_size)
        out.reduce_range = not has_vnni()
        return out
    if calibration is not None:
        raise ValueError(f"calibration is for int8 only; {dtype} needs none")
    fused = fuse(model, channels_last=channels_last or compile, dtype=dtype)
    return CompiledInference(fused, model, batch_size) if compile else fused
