"""int8 by post-training static quantization: PT2E with torchao's ``X86InductorQuantizer``.

The fused float32 graph (BatchNorm and residual scales folded, :mod:`.fused`) is captured with
``torch.export``, annotated by the quantizer (per-channel symmetric int8 weights, per-tensor
uint8 activations observed by histograms), run on the calibration batches, and converted to
a graph of quantize/dequantize pairs around float ops. Lowered through inductor with freezing
(:class:`~.compiled.CompiledInference`), each pair and its convolution become one oneDNN int8
convolution, with ReLU and the residual sum as post-ops.

On a CPU without VNNI (nor AMX) the int8 dot products go through ``vpmaddubsw``, whose 16-bit
intermediate sums saturate with full-range uint8 activations; there the quantizer's
``reduce_range`` keeps activations to 7 bits, as its documentation says.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

import torch
from torch import nn

_INSTALL = ("int8 inference needs torchao (PT2E with its X86InductorQuantizer); install it "
            "with `pip install 'inception-v4[int8]'` (or `pip install torchao`)")


_BELOW_VNNI = ("SSE41", "AVX", "AVX2", "AVX512_CORE")  # oneDNN's ISA names without VNNI


def has_vnni() -> bool:
    """Whether oneDNN runs int8 with VNNI (AVX512-VNNI or AVX-VNNI) or AMX here: full-range
    int8 there. The CPU must have them and ``ONEDNN_MAX_CPU_ISA`` must not hold oneDNN below
    them (a held oneDNN runs ``vpmaddubsw``, as a CPU without them does)."""
    held = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper() in _BELOW_VNNI
    return not held and bool(torch.cpu._is_vnni_supported() or
                             torch.cpu._is_amx_tile_supported())


def _torchao() -> tuple:
    try:
        pt2e = importlib.import_module("torchao.quantization.pt2e.quantize_pt2e")
        x86 = importlib.import_module(
            "torchao.quantization.pt2e.quantizer.x86_inductor_quantizer")
    except ModuleNotFoundError as err:
        raise ImportError(f"{_INSTALL} ({err})") from err
    return pt2e, x86  # importing x86 also registers its inductor lowering passes


def capture(fused: nn.Module, example: torch.Tensor) -> nn.Module:
    """``fused`` as a ``torch.export`` graph module with a symbolic batch axis.

    The example requires grad and export runs with grad enabled, so the fused convolutions
    take their portable path (``F.conv2d``), which the quantizer recognises."""
    example = example[:2].detach().clone().requires_grad_(True)
    if example.shape[0] < 2:
        example = torch.cat([example, example]).detach().requires_grad_(True)
    batch = torch.export.Dim("batch", min=1)
    with torch.enable_grad():
        program = torch.export.export(fused, (example,), dynamic_shapes=({0: batch},),
                                      strict=True)  # records source_fn_stack: PT2E needs it
    return program.module()


def quantize(fused: nn.Module, calibration: Iterable[torch.Tensor],
             reduce_range: bool | None = None) -> nn.Module:
    """The PT2E-quantized (converted, not yet lowered) graph of the float32 ``fused`` network.

    ``calibration``: batches of preprocessed images (N × C × H × W float32), a few hundred
    images in all. ``reduce_range=None`` reduces the activations' range exactly where the CPU
    lacks VNNI and AMX (:func:`has_vnni`).
    """
    pt2e, x86 = _torchao()
    batches = [b for b in calibration]
    if not batches:
        raise ValueError("int8 needs calibration images: pass a few hundred preprocessed "
                         "images as batches (the CLI: --calibration DATA)")
    for b in batches:
        if not isinstance(b, torch.Tensor) or b.dim() != 4 or not b.is_floating_point():
            raise ValueError(f"calibration batches must be float N x C x H x W tensors, got "
                             f"{getattr(b, 'shape', type(b))}")
    reduce_range = not has_vnni() if reduce_range is None else reduce_range
    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config(
        reduce_range=reduce_range))
    # The classifier stays float32: inductor cannot lower torchao's packed int8 linear here
    # ("onednn.qlinear_prepack is not an OpOverload", torch 2.14 / torchao 0.18), and one
    # 1536 x 1000 layer is well under 1 % of the network's multiply-adds.
    quantizer.set_module_type_qconfig(nn.Linear, None)
    prepared = pt2e.prepare_pt2e(capture(fused.float(), batches[0]), quantizer)
    with torch.no_grad():
        for b in batches:
            prepared(b.float().contiguous())
    return pt2e.convert_pt2e(prepared)
