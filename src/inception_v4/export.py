"""Export a network for inference: ONNX (checked against ONNX Runtime) or a torch.export
``ExportedProgram`` (checked by reloading it).

What is exported is the evaluation network: a copy in eval mode without the auxiliary head and
with every dropout replaced by an identity, so no training-only branch reaches the graph.
``optimize=True`` (``--optimize-for-inference``) first folds BatchNorm and the residual scales
into the convolutions with :func:`inception_v4.inference.optimize_for_inference`.
ONNX uses PyTorch's TorchScript-based exporter (``dynamo=False``), which needs neither
``onnxscript`` nor ``onnx``; checking the file needs ``onnx`` and ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from .evaluate.calibration import calibration_batches
from .inference import optimize_for_inference
from .inference.fused import fuse
from .inference.int8 import quantize
from .models import MIN_INPUT_SIZE, build_network
from .tolerances import rel_tol
from .weights import resolve_model

MIN_OPSET = 17
ATOL = 1e-4  # largest max-absolute difference to PyTorch an export may have
FORMATS = ("onnx", "exported-program")
_INSTALL_ONNX = ("ONNX export is checked with ONNX Runtime; install it with "
                 "`pip install onnx onnxruntime` (or `pip install -e '.[test]'`)")


class ExportCheckError(RuntimeError):
    """The exported graph does not reproduce the PyTorch model within the tolerance."""


def prepare_for_export(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` without auxiliary head and with dropout → identity."""
    model = copy.deepcopy(model).eval()
    if getattr(model, "aux_head", None) is not None:
        model.aux_head = None
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.Dropout):
                setattr(parent, name, nn.Identity())
    return model


def inference_network(model: nn.Module, optimize: bool = False) -> nn.Module:
    """What is exported: :func:`prepare_for_export`, and with ``optimize`` BatchNorm and the
    residual scales folded into the convolutions
    (:func:`inception_v4.inference.optimize_for_inference`)."""
    net = prepare_for_export(model)
    return optimize_for_inference(net, channels_last=False) if optimize else net


def _trace_input(net: nn.Module, image_size: int | None, batch_size: int = 2) -> torch.Tensor:
    """The example batch to trace with. It requires grad, and tracing runs with grad enabled:
    the fused convolutions then take their portable path (aten/ONNX ``Conv``) instead of
    oneDNN-only ops that neither ONNX nor other torch.export backends can run."""
    return example_input(net, image_size, batch_size).requires_grad_(True)


def example_input(model: nn.Module, image_size: int | None = None, batch_size: int = 2,
                  seed: int = 0) -> torch.Tensor:
    """A seeded random batch ``(batch_size, in_chans, S, S)``; S is the model's input size."""
    size = image_size or int(getattr(model, "pretrained_cfg", {}).get("input_size", (3, 299))[-1])
    if size < MIN_INPUT_SIZE:
        raise ValueError(f"image size {size} is below the minimum {MIN_INPUT_SIZE}; "
                         f"pass --image-size {MIN_INPUT_SIZE} or more")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    chans = int(getattr(model, "in_chans", 3))
    return torch.randn(batch_size, chans, size, size, generator=gen)


def _reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` in eval mode without changing the caller's model's mode."""
    was_training = model.training
    try:
        with torch.no_grad():
            return model.eval()(x)
    finally:
        model.train(was_training)


def _require_onnx() -> tuple:
    try:
        return importlib.import_module("onnx"), importlib.import_module("onnxruntime")
    except ModuleNotFoundError as err:
        raise ImportError(f"{_INSTALL_ONNX} ({err})") from err


def export_onnx(model: nn.Module, path: str | Path, *, image_size: int | None = None,
                opset: int = MIN_OPSET, dynamic_batch: bool = True,
                optimize: bool = False, batch_size: int = 2) -> Path:
    """Write the eval network as ONNX (input ``input``, output ``output``); returns the path.

    With ``dynamic_batch`` (the default) the first axis of input and output is symbolic
    (``batch``), otherwise fixed at ``batch_size``; ``optimize`` exports
    :func:`inference_network`'s folded form. The model's ``pretrained_cfg`` and creation
    arguments go into the metadata as JSON.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; use {MIN_OPSET} or newer")
    onnx, _ = _require_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = inference_network(model, optimize)
    x = _trace_input(net, image_size, batch_size)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # the legacy-exporter notice, shape-check trace notes
        torch.onnx.export(net, (x,), str(path), opset_version=opset, dynamo=False,
                          input_names=["input"], output_names=["output"], dynamic_axes=axes)
    graph = onnx.load(str(path))
    for key, value in {**_metadata(model), "optimized": str(optimize).lower()}.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


def _metadata(model: nn.Module) -> dict[str, str]:
    spec = getattr(model, "spec", None)
    return {
        "architecture": getattr(spec, "name", type(model).__name__),
        "pretrained_cfg": json.dumps(getattr(model, "pretrained_cfg", {})),
        "init_args": json.dumps(getattr(model, "init_args", {})),
    }


def check_onnx(model: nn.Module, path: str | Path, *, image_size: int | None = None,
               batch_size: int = 2, atol: float = ATOL) -> float:
    """Run the ONNX file with ONNX Runtime on a random batch; the max absolute difference to
    ``model`` (eval mode). Raises :class:`ExportCheckError` when it exceeds ``atol``."""
    _, ort = _require_onnx()
    x = example_input(model, image_size, batch_size, seed=1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    return _compare(_reference(model, x), got, atol, "ONNX Runtime")


def export_program(model: nn.Module, path: str | Path, *, image_size: int | None = None,
                   dynamic_batch: bool = True, optimize: bool = False,
                   batch_size: int = 2) -> Path:
    """``torch.export`` the eval network (folded with ``optimize``) and ``torch.export.save``
    it; returns the path. The batch axis is symbolic unless ``dynamic_batch=False`` fixes it
    at ``batch_size``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = inference_network(model, optimize)
    x = _trace_input(net, image_size, batch_size)
    shapes = {"x": {0: torch.export.Dim("batch", min=1)}} if dynamic_batch else None
    with torch.enable_grad():
        program = torch.export.export(net, (x,), dynamic_shapes=shapes)
    torch.export.save(program, str(path))
    return path


def export_int8_program(model: nn.Module, path: str | Path, calibration: str | Path) -> Path:
    """The int8 graph (:mod:`inception_v4.inference.int8`: PT2E, calibrated on images drawn
    from ``calibration``) as a ``torch.export`` program with a symbolic batch axis. Reloaded,
    it runs the quantize/dequantize reference ops; ``torch.compile`` with inductor's freezing
    lowers them to oneDNN int8 convolutions (what ``--dtype int8`` runs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = prepare_for_export(model)
    graph = quantize(fuse(net, channels_last=False), calibration_batches(calibration, net))
    x = example_input(net, None, 2)
    program = torch.export.export(graph, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return path


def check_int8_program(model: nn.Module, path: str | Path) -> float:
    """The reloaded int8 program's largest logit error relative to the float32 model's
    largest logit on a random batch; :class:`ExportCheckError` beyond the int8 bound."""
    x = example_input(model, None, 3, seed=1)
    with torch.no_grad():
        got = torch.export.load(str(path)).module()(x)
    want = _reference(model, x)
    rel = float((got - want).abs().max() / want.abs().max())
    if not rel <= rel_tol("int8"):
        raise ExportCheckError(f"the int8 program differs from PyTorch float32 by {rel:.3g} "
                               f"(relative), more than int8's bound {rel_tol('int8'):.3g}")
    return rel


def check_program(model: nn.Module, path: str | Path, *, image_size: int | None = None,
                  batch_size: int = 2, atol: float = ATOL) -> float:
    """Reload the saved program with ``torch.export.load`` and compare it on a random batch."""
    x = example_input(model, image_size, batch_size, seed=1)
    with torch.no_grad():
        got = torch.export.load(str(path)).module()(x)
    return _compare(_reference(model, x), got, atol, "the reloaded ExportedProgram")


def _compare(want: torch.Tensor, got: torch.Tensor, atol: float, what: str) -> float:
    if tuple(got.shape) != tuple(want.shape):
        raise ExportCheckError(f"{what} returned shape {tuple(got.shape)}, PyTorch "
                               f"{tuple(want.shape)}")
    diff = float((want.float() - got.float()).abs().max())
    if not diff <= atol:  # also catches NaN
        raise ExportCheckError(f"{what} differs from PyTorch by {diff:.3g} (max absolute), "
                               f"more than the allowed {atol:g}; the export is not faithful")
    return diff


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
    p.add_argument("--format", required=True, choices=FORMATS)
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
    p.add_argument("--opset", type=int, default=MIN_OPSET, help="ONNX opset (17 or newer)")
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
            export_onnx(model, args.out, opset=args.opset, **shape)
            diff = check_onnx(model, args.out, **check)
        else:
            export_program(model, args.out, **shape)
            diff = check_program(model, args.out, **check)
    except (ImportError, ExportCheckError) as err:
        print(f"inception-v4 export: error: {err}", file=sys.stderr)
        return 1
    size = example_input(model, args.image_size, 1).shape[1:]
    batch = "batch" if dynamic else str(args.fixed_batch)
    print(f"wrote {args.out} ({args.format}, {model.spec.name}); input [{batch}, "
          f"{', '.join(map(str, size))}] float32 ({'any batch size' if dynamic else 'fixed batch'}"
          f"); max abs difference to PyTorch {diff:.3g} (allowed {ATOL:g})")
    return 0


def _run_int8(args: argparse.Namespace, model: nn.Module) -> int:
    if args.dtype != "int8" or args.calibration is None:
        raise ValueError("--dtype int8 needs --calibration DATA, and --calibration is for "
                         "--dtype int8 only")
    if args.format != "exported-program":
        raise ValueError("--dtype int8 writes a torch.export program: use --format "
                         "exported-program")
    try:
        export_int8_program(model, args.out, args.calibration)
        rel = check_int8_program(model, args.out)
    except (ImportError, ExportCheckError) as err:
        print(f"inception-v4 export: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (int8 exported-program, {model.spec.name}); input [batch, ...] "
          f"float32; max rel. logit error to PyTorch float32 {rel:.3g} (bound "
          f"{rel_tol('int8'):.3g})")
    return 0
