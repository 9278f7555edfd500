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

import copy
import importlib
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..evaluate.calibration import calibration_batches
from ..inference import optimize_for_inference
from ..inference.fused import fuse
from ..inference.int8 import quantize
from ..models import MIN_INPUT_SIZE
from ..tolerances import rel_tol

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

