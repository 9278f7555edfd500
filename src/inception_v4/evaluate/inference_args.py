"""The inference-path flags of ``predict``, ``evaluate`` and ``ensemble``: one definition."""

from __future__ import annotations

import argparse
from typing import Any


def add_inference_args(p: argparse.ArgumentParser) -> None:
    """``--dtype``, ``--compile`` and ``--calibration`` of predict, evaluate and ensemble."""
    p.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32",
                   help="bfloat16: the fused graph computing in bf16 (float32 in and out); "
                        "int8: quantized after calibration (needs --calibration; compiled)")
    p.add_argument("--compile", action="store_true",
                   help="compile the fused graph with inductor (CPU; tens of seconds at the "
                        "first start, less with inductor's cache)")
    p.add_argument("--calibration", default=None, metavar="DATA",
                   help="int8: data to calibrate on (anything --data or predict reads; its "
                        "training part where it has one); 256 images are drawn from it")


def inference_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The inference path the flags ask for (:func:`.loading.load_for_eval`'s keywords)."""
    return {"dtype": args.dtype, "compile": args.compile, "calibration": args.calibration}
