"""``inception-v4 export``: the command line of :mod:`inception_v4.export.graphs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import nn

from ..models import build_network
from ..tolerances import rel_tol
from ..weights import resolve_model
from . import graphs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", description="export a network to ONNX or a torch.export program, "
                                      "checked against PyTorch")
    p.add_argument("--model", default=None,
                   help="registry name (see `inception-v4 models`); default: the one the "
                        "weights name (our folder, a training checkpoint or run folder)")
    p.add_argument("--weights", default=None,
                   help="our folder, a training checkpoint (.pt) or run folder, or anything "
                        "create_model(pretrained=...) reads; random init if omitted")
    p.add_argument("--ema", action="store_true", help="a training checkpoint's averaged weights")
    p.add_argument("--format", required=True, choices=graphs.FORMATS)
    p.add_argument("--out", required=True, type=Path, help="file to write")
    p.add_argument("--fixed-batch", type=int, default=None, metavar="N",
                   help="fix the batch axis at N (default: a symbolic batch axis, any batch "
                        "size runs)")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="a symbolic batch axis (the default; kept for older scripts)")
    p.add_argument("--optimize-for-inference", action="store_true",
                   help="fold BatchNorm and residual scales into the convolutions first")
    p.add_argument("--dtype", choices=("float32", "int8"), default="float32",
                   help="int8 (exported-program only): the quantized graph, calibrated on "
                        "256 images of --calibration DATA")
    p.add_argument("--calibration", default=None, metavar="DATA",
                   help="int8: any data evaluate or predict reads")
    p.add_argument("--opset", type=int, default=graphs.MIN_OPSET, help="ONNX opset (17 or newer)")
    p.add_argument("--image-size", type=int, default=None, help="input side (default: model's)")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--width", type=float, default=None,
                   help="of a random network (no --weights); default 1")
    p.add_argument("--depth", type=float, default=None,
                   help="of a random network (no --weights); default 1")
    p.set_defaults(func=run_export)


def build_model(name: str | None, weights: str | None, *, num_classes: int | None = None,
                width: float | None = None, depth: float | None = None,
                ema: bool = False) -> nn.Module:
    """The network to export: what ``weights`` holds (:func:`inception_v4.weights.resolve_model`,
    whose rules apply; ``num_classes`` puts a new head on it), or, without weights, a
    randomly initialised ``name`` of the given ``width`` and ``depth``."""
    if weights is None:
        if name is None:
            raise ValueError("--model NAME is needed without --weights (a random network)")
        return build_network(name, num_classes=num_classes, width=width or 1.0,
                             depth=depth or 1.0)
    if width is not None or depth is not None:
        raise ValueError(f"--width/--depth describe a random network; {weights} fixes its own "
                         f"(drop them, or drop --weights)")
    return resolve_model(weights, name=name, ema=ema, num_classes=num_classes)


def run_export(args: argparse.Namespace) -> int:
    if args.weights is None:
        print("inception-v4 export: warning: no --weights given, exporting a randomly "
              "initialised network", file=sys.stderr)
    if args.fixed_batch is not None and (args.dynamic_batch or args.fixed_batch < 1):
        raise ValueError(f"--fixed-batch {args.fixed_batch}: give a batch of at least 1, and "
                         f"not together with --dynamic-batch")
    model = build_model(args.model, args.weights, num_classes=args.num_classes,
                        width=args.width, depth=args.depth, ema=args.ema)
    dynamic = args.fixed_batch is None
    shape = dict(image_size=args.image_size, dynamic_batch=dynamic,
                 batch_size=args.fixed_batch or 2, optimize=args.optimize_for_inference)
    check = dict(image_size=args.image_size, batch_size=3 if dynamic else args.fixed_batch)
    if args.dtype == "int8" or args.calibration is not None:
        return _run_int8(args, model)
    try:
        if args.format == "onnx":
            graphs.export_onnx(model, args.out, opset=args.opset, **shape)
            diff = graphs.check_onnx(model, args.out, **check)
        else:
            graphs.export_program(model, args.out, **shape)
            diff = graphs.check_program(model, args.out, **check)
    except (ImportError, graphs.ExportCheckError) as err:
        print(f"inception-v4 export: error: {err}", file=sys.stderr)
        return 1
    size = graphs.example_input(model, args.image_size, 1).shape[1:]
    batch = "batch" if dynamic else str(args.fixed_batch)
    print(f"wrote {args.out} ({args.format}, {model.spec.name}); input [{batch}, "
          f"{', '.join(map(str, size))}] float32 ({'any batch size' if dynamic else 'fixed batch'}"
          f"); max abs difference to PyTorch {diff:.3g} (allowed {graphs.ATOL:g})")
    return 0


def _run_int8(args: argparse.Namespace, model: nn.Module) -> int:
    if args.dtype != "int8" or args.calibration is None:
        raise ValueError("--dtype int8 needs --calibration DATA, and --calibration is for "
                         "--dtype int8 only")
    if args.format != "exported-program":
        raise ValueError("--dtype int8 writes a torch.export program: use --format "
                         "exported-program")
    try:
        graphs.export_int8_program(model, args.out, args.calibration)
        rel = graphs.check_int8_program(model, args.out)
    except (ImportError, graphs.ExportCheckError) as err:
        print(f"inception-v4 export: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (int8 exported-program, {model.spec.name}); input [batch, ...] "
          f"float32; max rel. logit error to PyTorch float32 {rel:.3g} (bound "
          f"{rel_tol('int8'):.3g})")
    return 0
