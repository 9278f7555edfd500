"""Contestants a deploying user would pick instead of PyTorch: our exported ONNX graph (BN
folded, :func:`inception_v4.export.export_onnx`) run by ONNX Runtime and by OpenVINO, at
float32 and, where the CPU has bf16 kernels, OpenVINO's bf16.

Both runtimes are optional (``pip install -e '.[bench]'``); a missing one is left out with
a line saying so. Each session gets the benchmark's thread count, and each contestant
returns its logits, so the bench reports its error against eager float32.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..export import export_onnx
from .contestants import Contestant, Settings

RUNTIMES = ("onnxruntime", "openvino")


def installed(runtime: str) -> bool:
    return importlib.util.find_spec(runtime) is not None


def onnxruntime_session(path: Path, threads: int):  # noqa: ANN201 - an ort.InferenceSession
    import onnxruntime as ort  # optional: the bench extra

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@functools.cache
def openvino_core():  # noqa: ANN201 - an ov.Core
    """The process's one OpenVINO ``Core``, kept for the life of the process.

    Each ``Core`` loads its own CPU plugin, and each plugin instance points the calling
    thread's alternate signal stack (``sigaltstack``) at a buffer of its own, restoring the
    one it found when it is destroyed. Two plugins destroyed in the order they were created
    (the bench's f32 then bf16 model) leave the thread's alternate stack pointing at the first
    plugin's freed buffer; Python runs its signal handlers on that stack (``SA_ONSTACK``), so
    the next handled signal, e.g. the SIGCHLD of a DataLoader worker exiting, ends the process
    with SIGSEGV (openvino 2026.4; ``benchmarks/openvino_sigaltstack.py`` reproduces it in
    15 lines). One ``Core`` per process, as OpenVINO recommends, loads one plugin.
    """
    import openvino as ov  # optional: the bench extra

    return ov.Core()


def openvino_model(path: Path, threads: int, precision: str):  # noqa: ANN201 - CompiledModel
    config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads,
              "PERFORMANCE_HINT": "LATENCY"}
    return openvino_core().compile_model(str(path), "CPU", config)


def openvino_has_bf16() -> bool:
    return "BF16" in openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def runtime_contestants(model: nn.Module, s: Settings, x: torch.Tensor,
                        folder: Path) -> list[Contestant]:
    """ONNX Runtime and OpenVINO on ``model`` exported to ``folder`` (CPU, float32 input)."""
    if s.torch_device.type != "cpu":
        return []
    path = export_onnx(model, folder / "model.onnx", image_size=s.image_size,
                       dynamic_batch=True, optimize=True)
    feed = x.float().contiguous().numpy()
    out = []
    if installed("onnxruntime"):
        session = onnxruntime_session(path, s.threads)
        out.append(Contestant("ort", "onnxruntime",
                              lambda: torch.from_numpy(session.run(None, {"input": feed})[0]),
                              {"mode": "infer", "runtime": "onnxruntime", "dtype": "float32"},
                              memory=False))
    if installed("openvino"):
        precisions = ("f32", "bf16") if openvino_has_bf16() else ("f32",)
        for precision in precisions:
            out.append(_openvino_contestant(path, s.threads, precision, feed))
    missing = [r for r in RUNTIMES if not installed(r)]
    if missing:
        print(f"bench: {', '.join(missing)} not installed (pip install -e '.[bench]'): "
              f"left out")
    return out


def _openvino_contestant(path: Path, threads: int, precision: str,
                         feed: np.ndarray) -> Contestant:
    compiled = openvino_model(path, threads, precision)
    request = compiled.create_infer_request()
    label = "openvino" if precision == "f32" else f"openvino-{precision}"

    def run() -> torch.Tensor:
        return torch.from_numpy(np.array(request.infer({0: feed})[compiled.output(0)]))

    dtype = "float32" if precision == "f32" else "bfloat16"
    return Contestant(label, "openvino", run, {"mode": "infer", "runtime": "openvino",
                                                "dtype": dtype}, memory=False)
