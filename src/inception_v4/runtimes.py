"""The network's forward pass on another runtime: ONNX Runtime or OpenVINO on our exported graph.

:func:`on_runtime` exports a network through :func:`inception_v4.export.export_onnx` (BatchNorm
folded, a symbolic batch axis) into a temporary folder, loads it into the runtime and returns a
:class:`RuntimeNetwork`: an ``nn.Module`` whose forward takes float32 images and returns float32
outputs, carrying the network's ``spec``, ``num_classes`` and ``pretrained_cfg``. Everything
around the forward (preprocessing, crops, softmax, averaging) stays the library's own, so
``evaluate``, ``ensemble`` and ``predict`` use it like the torch model.

* ``onnxruntime``: float32 (its CPU execution provider); ``int8`` through its static
  quantization (QDQ, per-channel weights, activations calibrated on the images given).
* ``openvino``: float32; ``bfloat16`` (``INFERENCE_PRECISION_HINT``, computed in bf16 where the
  CPU has bf16 instructions: :func:`openvino_has_bf16`); ``int8`` through ``nncf.quantize``
  (post-training static quantization calibrated on the images given).

The packages are optional: ``pip install 'inception-v4[runtimes]'``.
"""

from __future__ import annotations

import functools
import importlib
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .export import export_onnx

RUNTIMES = ("torch", "onnxruntime", "openvino")
DTYPES = {"torch": ("float32", "bfloat16", "int8"), "onnxruntime": ("float32", "int8"),
          "openvino": ("float32", "bfloat16", "int8")}
EXTRA = "pip install 'inception-v4[runtimes]'"
_OV_PRECISION = {"float32": "f32", "bfloat16": "bf16", "int8": "f32"}  # int8: nncf's graph
_KEPT = ("spec", "num_classes", "pretrained_cfg", "init_args", "in_chans", "num_features",
         "weights_kind")  # what evaluate/predict read besides the forward


class MissingRuntime(ImportError, ValueError):
    """An optional runtime package is not installed (a ValueError too: the CLI's one line)."""


def require(package: str, why: str):  # noqa: ANN201 - the imported module
    """``import package``, or :class:`MissingRuntime` naming the extra that installs it."""
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as err:
        raise MissingRuntime(f"{why} needs the {package} package, which is not installed: "
                             f"{EXTRA}", name=package) from err


def onnxruntime_session(path: Path, threads: int):  # noqa: ANN201 - an ort.InferenceSession
    """A CPU session on ``path`` with ``threads`` intra-op threads."""
    ort = require("onnxruntime", "ONNX Runtime")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@functools.cache
def openvino_core():  # noqa: ANN201 - an ov.Core
    """The process's one OpenVINO ``Core``, kept for the life of the process.

    Each ``Core`` loads its own CPU plugin, and each plugin instance points the calling
    thread's alternate signal stack (``sigaltstack``) at a buffer of its own, restoring the
    one it found when it is destroyed. Two plugins destroyed in the order they were created
    (an f32 then a bf16 model) leave the thread's alternate stack pointing at the first
    plugin's freed buffer; Python runs its signal handlers on that stack (``SA_ONSTACK``), so
    the next handled signal, e.g. the SIGCHLD of a DataLoader worker exiting, ends the process
    with SIGSEGV (openvino 2026.4; ``benchmarks/openvino_sigaltstack.py`` reproduces it in
    15 lines). One ``Core`` per process, as OpenVINO recommends, loads one plugin.
    """
    return require("openvino", "OpenVINO").Core()


def openvino_model(source: Path | object, threads: int, precision: str):  # noqa: ANN201
    """``source`` (a model file or an ``ov.Model``) compiled for the CPU at ``precision``
    ("f32" or "bf16"), for latency, on ``threads`` threads."""
    config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads,
              "PERFORMANCE_HINT": "LATENCY"}
    model = str(source) if isinstance(source, Path) else source
    return openvino_core().compile_model(model, "CPU", config)


def openvino_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 here (AVX512-BF16 or AMX)."""
    return "BF16" in openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def openvino_int8(path: Path, calibration: torch.Tensor):  # noqa: ANN201 - an ov.Model
    """The ONNX graph at ``path`` quantized to int8 by ``nncf.quantize`` (static, per-channel
    weights, activations calibrated on every image of ``calibration``, N × C × H × W)."""
    nncf = require("nncf", "int8 on OpenVINO")
    model = openvino_core().read_model(str(path))
    images = [x[None].float().contiguous().numpy() for x in calibration]
    return nncf.quantize(model, nncf.Dataset(images), subset_size=len(images))


def onnxruntime_int8(path: Path, out: Path, calibration: torch.Tensor) -> Path:
    """ONNX Runtime's static quantization of ``path`` (QDQ, signed int8 activations and
    per-channel weights, min-max calibrated on every image of ``calibration``), at ``out``."""
    q = require("onnxruntime.quantization", "int8 on ONNX Runtime")
    prepared = out.with_name(f"{out.stem}-prepared.onnx")  # shapes inferred, graph optimised
    q.shape_inference.quant_pre_process(str(path), str(prepared))
    feeds = iter([{"input": x[None].float().contiguous().numpy()} for x in calibration])

    class Reader(q.CalibrationDataReader):
        def get_next(self) -> dict | None:
            return next(feeds, None)

    q.quantize_static(str(prepared), str(out), Reader(), quant_format=q.QuantFormat.QDQ,
                      per_channel=True, activation_type=q.QuantType.QInt8,
                      weight_type=q.QuantType.QInt8)
    return out


class RuntimeNetwork(nn.Module):
    """A network whose forward runs on another runtime: float32 images in (any layout, any
    device: they are copied to the CPU), float32 outputs out, on the CPU."""

    def __init__(self, source: nn.Module, run: Callable[[np.ndarray], np.ndarray],
                 runtime: str, dtype: str) -> None:
        super().__init__()
        for name in _KEPT:
            if hasattr(source, name):
                setattr(self, name, getattr(source, name))
        self.runtime, self.dtype_name, self._run = runtime, dtype, run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feed = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(np.asarray(self._run(feed), dtype=np.float32))

    def extra_repr(self) -> str:
        return f"runtime={self.runtime}, dtype={self.dtype_name}"


def check_runtime(runtime: str, dtype: str) -> None:
    """A ValueError naming what ``runtime`` runs when it cannot run ``dtype``."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    if dtype not in DTYPES[runtime]:
        others = [r for r in RUNTIMES if dtype in DTYPES[r]]
        raise ValueError(f"--runtime {runtime} runs {', '.join(DTYPES[runtime])}, not {dtype}; "
                         f"use --runtime {' or '.join(others) or 'torch'} for {dtype}")


def _ready(runtime: str, dtype: str, calibration: torch.Tensor | None) -> None:
    """Fail early: a runtime that cannot run ``dtype``, a missing package, int8 without
    calibration images."""
    check_runtime(runtime, dtype)
    if runtime == "torch":
        raise ValueError("runtime 'torch' is the model itself; this is for onnxruntime and "
                         "openvino")
    require(runtime, f"--runtime {runtime}")
    if dtype == "int8":
        if runtime == "openvino":
            require("nncf", "int8 on OpenVINO")
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 needs calibration images (--calibration DATA)")


def on_runtime(model: nn.Module, runtime: str, dtype: str = "float32", *,
               threads: int | None = None, image_size: int | None = None,
               calibration: torch.Tensor | None = None) -> RuntimeNetwork:
    """``model``'s eval network on ``runtime`` ("onnxruntime" or "openvino") at ``dtype``.

    ``threads``: intra-op threads (default: torch's). ``image_size``: the input side the graph
    takes (default: the model's ``pretrained_cfg``, the size its views have). ``calibration``:
    preprocessed images (N × C × H × W), needed for ``int8``. The temporary ONNX file is gone
    when this returns (both runtimes keep the graph).
    """
    _ready(runtime, dtype, calibration)
    for package in ("onnx", "onnxruntime"):
        require(package, "our ONNX export (checked with ONNX Runtime)")
    with tempfile.TemporaryDirectory(prefix="inception-v4-runtime-") as folder:
        path = export_onnx(model, Path(folder) / "model.onnx", image_size=image_size,
                           dynamic_batch=True, optimize=True)
        return from_onnx(path, model, runtime, dtype, threads=threads, calibration=calibration)


def from_onnx(path: Path, model: nn.Module, runtime: str, dtype: str = "float32", *,
              threads: int | None = None,
              calibration: torch.Tensor | None = None) -> RuntimeNetwork:
    """The graph ``path`` (``model`` exported by :func:`inception_v4.export.export_onnx`)
    loaded by ``runtime`` at ``dtype``; the file may be deleted afterwards."""
    _ready(runtime, dtype, calibration)
    threads = threads or torch.get_num_threads()
    if runtime == "onnxruntime":
        if dtype == "int8":
            path = onnxruntime_int8(path, path.with_name(f"{path.stem}-int8.onnx"), calibration)
        session = onnxruntime_session(path, threads)
        return RuntimeNetwork(model, lambda x: session.run(None, {"input": x})[0], runtime, dtype)
    if dtype == "bfloat16" and not openvino_has_bf16():
        warnings.warn("OpenVINO has no bf16 kernels on this CPU (it needs AVX512-BF16 or AMX): "
                      "it computes in float32", stacklevel=2)
    source = openvino_int8(path, calibration) if dtype == "int8" else path
    compiled = openvino_model(source, threads, _OV_PRECISION[dtype])
    request, output = compiled.create_infer_request(), compiled.output(0)
    net = RuntimeNetwork(model, lambda x: request.infer({0: x})[output], runtime, dtype)
    net.compiled = compiled  # kept alive with the request
    return net
