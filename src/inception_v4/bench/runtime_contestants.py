"""Contestants a deploying user would pick instead of PyTorch: our exported ONNX graph (BN
folded, :func:`inception_v4.export.export_onnx`) run by ONNX Runtime (float32, and its static
int8 quantization) and by OpenVINO (float32; bf16 where the CPU has bf16 kernels; int8 through
``nncf.quantize``), each the :class:`inception_v4.runtimes.RuntimeNetwork` that
``predict``/``evaluate --runtime`` run.

Both runtimes are optional (``pip install -e '.[bench]'``); a missing one is left out with
a line saying so. Each session gets the benchmark's thread count, and each contestant
returns its logits, so the bench reports its error against eager float32.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from .. import runtimes
from ..export import export_onnx
from .contestants import Contestant, Settings

RUNTIMES = ("onnxruntime", "openvino", "nncf")
CALIBRATION_IMAGES = 32  # random images: int8's error here says nothing about accuracy


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def calibration_images(s: Settings) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.randn(CALIBRATION_IMAGES, 3, s.image_size, s.image_size, generator=g)


def runtime_contestants(model: nn.Module, s: Settings, x: torch.Tensor,
                        folder: Path) -> list[Contestant]:
    """ONNX Runtime and OpenVINO on ``model`` exported to ``folder`` (CPU, float32 input)."""
    if s.torch_device.type != "cpu":
        return []
    path = export_onnx(model, folder / "model.onnx", image_size=s.image_size,
                       dynamic_batch=True, optimize=True)
    x = x.float().contiguous()
    plans = []  # (label, runtime, dtype)
    if installed("onnxruntime"):
        plans += [("ort", "onnxruntime", "float32")]
        plans += [("ort-int8", "onnxruntime", "int8")] if s.int8 else []
    if installed("openvino"):
        plans += [("openvino", "openvino", "float32")]
        plans += [("openvino-bf16", "openvino", "bfloat16")] if runtimes.openvino_has_bf16() else []
        plans += [("openvino-int8", "openvino", "int8")] if s.int8 and installed("nncf") else []
    out = []
    for label, runtime, dtype in plans:
        calibration = calibration_images(s) if dtype == "int8" else None
        net = runtimes.from_onnx(path, model, runtime, dtype, threads=s.threads,
                                 calibration=calibration)
        out.append(Contestant(label, runtime, lambda net=net: net(x),
                              {"mode": "infer", "runtime": runtime, "dtype": dtype},
                              memory=False))
    missing = [r for r in RUNTIMES if not installed(r)]
    if missing:
        print(f"bench: {', '.join(missing)} not installed (pip install -e '.[bench]'): "
              f"left out")
    return out


