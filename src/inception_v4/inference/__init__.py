"""Inference: the fused graph (:mod:`.fused`), compiled by inductor (:mod:`.compiled`), and
int8 by post-training static quantization (:mod:`.int8`).

:func:`optimize_for_inference` is the one entry point: ``dtype`` picks float32, bfloat16 or
int8 (which needs calibration batches), ``compile=True`` hands the fused graph to inductor.
"""

from __future__ import annotations

from .compiled import CompiledInference
from .fused import (
    DTYPES,
    HAS_BF16,
    Float32Linear,
    FusedConv,
    FusedResidual,
    PoolAfterConv,
    fold_bn,
    fuse,
    fuse_conv_bn,
)
from .int8 import has_vnni
from .optimize import INT8, inference_dtype, optimize_for_inference

__all__ = ["DTYPES", "HAS_BF16", "INT8", "CompiledInference", "Float32Linear", "FusedConv",
           "FusedResidual", "PoolAfterConv", "fold_bn", "fuse", "fuse_conv_bn", "has_vnni",
           "inference_dtype", "optimize_for_inference"]
