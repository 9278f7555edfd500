"""``--runtime onnxruntime|openvino``: the network's forward on another runtime gives the torch
model's outputs within its dtype's bound (inception_v4.tolerances), with the same
preprocessing and crops; what cannot run says so in one line."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch
from onednn_cap import onednn_held_below_bf16
from PIL import Image
from test_optimize import SMALL, randomise_bn

from inception_v4 import create_model, runtimes, save_pretrained
from inception_v4.cli import main
from inception_v4.export import export_onnx
from inception_v4.inference.int8 import has_vnni
from inception_v4.tolerances import rel_tol

SIZE = 75
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max())


@pytest.fixture(scope="module")
def small() -> torch.nn.Module:
    """A small Inception-ResNet-v2 with non-trivial BatchNorm statistics, 75 px input."""
    torch.manual_seed(0)
    model = randomise_bn(create_model("inception_resnet_v2", num_classes=10, **SMALL)).eval()
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, SIZE, SIZE)}
    return model


def _cases() -> list[tuple[str, str]]:
    cases = [("onnxruntime", "float32"), ("onnxruntime", "int8")]
    if importlib.util.find_spec("openvino") is not None:
        cases.append(("openvino", "float32"))
        capped = onednn_held_below_bf16()  # no bf16 kernel for OpenVINO then
        if not capped:
            cases.append(("openvino", "bfloat16"))
        if importlib.util.find_spec("nncf") is not None:
            cases.append(("openvino", "int8"))
    return cases


def _bound(dtype: str) -> float:
    """``rel_tol(dtype)``; int8 without VNNI or AMX (or with oneDNN held below them) has 7-bit
    activations' bound (``tolerances``)."""
    return rel_tol("int8_reduced") if dtype == "int8" and not has_vnni() else rel_tol(dtype)


def test_every_runtime_and_dtype_within_its_bound_of_torch_float32(
        small: torch.nn.Module, tmp_path: Path) -> None:
    """One export, every runtime × dtype: float32 logits of the torch shape, any batch size,
    either memory layout, within ``rel_tol(dtype)`` of eager float32 (int8 calibrated on the
    kind of images it then sees); the wrapper keeps what evaluate reads from a network."""
    path = export_onnx(small, tmp_path / "m.onnx", dynamic_batch=True, optimize=True)
    g = torch.Generator().manual_seed(1)
    calibration = torch.randn(8, 3, SIZE, SIZE, generator=g)
    x = torch.randn(3, 3, SIZE, SIZE, generator=g)
    with torch.no_grad():
        want = small(x)
    assert want.abs().max() > 0.05  # a real signal
    for runtime, dtype in _cases():
        net = runtimes.from_onnx(path, small, runtime, dtype, threads=1,
                                 calibration=calibration)
        got = net(x)
        assert got.dtype == torch.float32 and got.shape == want.shape, (runtime, dtype)
        bound = _bound(dtype)
        assert _rel(got, want) <= bound, (runtime, dtype, _rel(got, want))
        nhwc = net(x[:1].contiguous(memory_format=torch.channels_last))
        assert _rel(nhwc, want[:1]) <= bound, (runtime, dtype, "batch 1, NHWC")
    assert (net.num_classes, net.spec.name, net.pretrained_cfg) == (
        10, "inception_resnet_v2", small.pretrained_cfg)
    assert list(net.parameters()) == []  # evaluate's views stay on the CPU


def test_what_a_runtime_cannot_run_is_one_line(small: torch.nn.Module,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="--runtime onnxruntime runs float32, int8, not "
                                         "bfloat16; use --runtime torch or openvino"):
        runtimes.on_runtime(small, "onnxruntime", "bfloat16")
    with pytest.raises(ValueError, match=r"int8 needs calibration images \(--calibration"):
        runtimes.on_runtime(small, "onnxruntime", "int8")
    real = importlib.import_module

    def without_openvino(name: str, *args: object) -> object:
        if name.split(".")[0] == "openvino":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_openvino)
    with pytest.raises(ImportError) as err:
        runtimes.on_runtime(small, "openvino")
    assert str(err.value) == ("--runtime openvino needs the openvino package, which is not "
                              "installed: pip install 'inception-v4[runtimes]'")
    assert isinstance(err.value, ValueError)  # the CLI prints it as one line


@pytest.fixture(scope="module")
def folder(small: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pretrained(small, tmp_path_factory.mktemp("w") / "w")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    ramp = torch.linspace(0, 255, 110).expand(90, 110)
    for i, pixels in enumerate([torch.stack([ramp, ramp.flip(1), 0 * ramp], -1),
                                torch.stack([0 * ramp + 30, ramp * 3 % 256, ramp], -1)]):
        Image.fromarray(pixels.to(torch.uint8).numpy()).save(root / f"{i}.png")
    return root


def _predict(folder: Path, images: Path, out: Path, *extra: str) -> dict:
    assert main(["predict", str(images), "--weights", str(folder), "--topk", "10", "--crops",
                 "12", "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def _probabilities(result: dict) -> torch.Tensor:
    return torch.tensor([[t["probability"] for t in sorted(p["top"], key=lambda t: t["class"])]
                         for p in result["predictions"]])


def test_predict_on_a_runtime_matches_torch(folder: Path, images: Path, tmp_path: Path) -> None:
    """``predict --crops 12 --runtime onnxruntime``: the same views (preprocessing, crops,
    mirrors), the runtime's forward, the same softmax average: probabilities within float32's
    bound of torch's; the JSON says which runtime ran."""
    want = _predict(folder, images, tmp_path / "torch.json")
    got = _predict(folder, images, tmp_path / "ort.json", "--runtime", "onnxruntime")
    assert (want["runtime"], got["runtime"]) == ("torch", "onnxruntime")
    assert [p["image"] for p in got["predictions"]] == [p["image"] for p in want["predictions"]]
    p, q = _probabilities(got), _probabilities(want)
    assert _rel(p, q) <= rel_tol("float32")
    assert not torch.allclose(q[0], q[1], atol=1e-6)  # the two images differ: a real check


def test_evaluate_and_ensemble_on_a_runtime(folder: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    """``evaluate`` and ``ensemble`` with ``--runtime``: the same top-1/top-5 as torch on the
    same images; a GPU or an unsupported dtype asked of a runtime is refused in one line."""
    base = ["--data", "embedded", "--limit", "12", "--workers", "0", "--by-index"]
    results = {}
    for runtime in ("torch", "onnxruntime"):
        out = tmp_path / f"{runtime}.json"
        assert main(["evaluate", "--weights", str(folder), *base, "--runtime", runtime,
                     "--json", str(out)]) == 0
        results[runtime] = json.loads(out.read_text())
    keys = ("images", "top1_err", "top5_err")
    assert [results["onnxruntime"][k] for k in keys] == [results["torch"][k] for k in keys]
    out = tmp_path / "ensemble.json"
    assert main(["ensemble", "--member", str(folder), "--member", str(folder), *base,
                 "--runtime", "onnxruntime", "--json", str(out)]) == 0
    both = json.loads(out.read_text())
    assert both["runtime"] == "onnxruntime" and both["top1_err"] == results["torch"]["top1_err"]
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(folder), *base, "--runtime", "onnxruntime",
                 "--device", "cuda"]) == 2
    assert capsys.readouterr().err == ("inception-v4 evaluate: error: --runtime onnxruntime "
                                       "runs on the CPU; drop --device cuda, or use --runtime "
                                       "torch on cuda\n")
    assert main(["evaluate", "--weights", str(folder), *base, "--runtime", "onnxruntime",
                 "--dtype", "bfloat16"]) == 2
    assert "runs float32, int8, not bfloat16" in capsys.readouterr().err
