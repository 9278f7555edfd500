"""The compiled and int8 inference paths: outputs against the eager float32 network within each
dtype's bound (tolerances.py), batch sizes other than the compiled one, the errors of a
missing calibration, and the CLI flags that reach them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import inception_v4
from inception_v4 import create_model
from inception_v4.cli import main
from inception_v4.inference import CompiledInference, has_vnni
from inception_v4.tolerances import rel_tol

SMALL = {"width": 0.25, "depth": 0.2}
SIZE = 107  # smallest side the stems' valid convolutions and reductions keep >= 1x1 at 8x8


def _calibrated(name: str, size: int = SIZE, seed: int = 0) -> nn.Module:
    """A small network whose BatchNorm statistics come from one training-mode pass, so
    activations keep their scale through the depth (the bench's calibrate_bn)."""
    torch.manual_seed(seed)
    model = create_model(name, **SMALL)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(8, 3, size, size, generator=torch.Generator().manual_seed(1)))
    return model.eval()


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max())


@pytest.mark.isa
def test_compiled_float32_matches_eager_and_runs_any_batch_size() -> None:
    """Inductor with freezing, compiled for batch 2: a batch of 3 runs as 2 + (1 padded),
    within the float32 bound of the unfused eager network; the attributes the commands read
    are the network's."""
    model = _calibrated("inception_resnet_v2")
    x = torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(x)
    compiled = inception_v4.optimize_for_inference(model, compile=True, batch_size=2)
    assert isinstance(compiled, CompiledInference)
    got = compiled(x)
    assert got.shape == want.shape
    assert _rel(got, want) <= rel_tol("float32"), _rel(got, want)
    assert _rel(compiled(x[:1]), want[:1]) <= rel_tol("float32")
    assert compiled.pretrained_cfg == model.pretrained_cfg
    assert compiled.num_classes == model.num_classes and compiled.spec is model.spec
    assert compiled.eval() is compiled
    with pytest.raises(ValueError, match="cannot train"):
        compiled.train()


def test_int8_needs_calibration_and_calibration_needs_int8() -> None:
    model = create_model("inception_v4", **SMALL)
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        inception_v4.optimize_for_inference(model, dtype="int8")
    with pytest.raises(ValueError, match="calibration is for int8 only"):
        inception_v4.optimize_for_inference(model, calibration=[torch.zeros(1, 3, 8, 8)])
    with pytest.raises(ValueError, match="calibration batches must be float"):
        inception_v4.optimize_for_inference(model, dtype="int8", calibration=[torch.zeros(3)])


@pytest.mark.slow
@pytest.mark.isa
def test_int8_is_quantized_and_lowered_faithfully() -> None:
    """PT2E int8 (torchao's X86InductorQuantizer) on a small IR-v2 calibrated on 32 images:
    every convolution is quantized, and inductor's oneDNN int8 lowering computes what the
    quantized graph's reference ops (quantize/dequantize around float ops) compute, within the
    int8 bound: requantisation rounds at other points, a broken lowering is off by ~1. (Against
    float32, a random 8-channel network's logits are too flat to judge; the trained network
    of tests/test_int8_accuracy.py is judged there.)"""
    pytest.importorskip("torchao")
    model = _calibrated("inception_resnet_v2")
    g = torch.Generator().manual_seed(3)
    calibration = [torch.randn(8, 3, SIZE, SIZE, generator=g) for _ in range(4)]
    x = torch.randn(4, 3, SIZE, SIZE, generator=g)
    int8 = inception_v4.optimize_for_inference(model, dtype="int8", calibration=calibration)
    assert int8.reduce_range == (not has_vnni())
    graph = int8.graph._orig_mod  # the converted PT2E graph, before inductor
    ops = [str(n.target) for n in graph.graph.nodes if n.op == "call_function"]
    convs = ops.count("aten.conv2d.default")
    assert ops.count("quantized_decomposed.dequantize_per_channel.default") == convs > 50
    with torch.no_grad():
        reference, want = graph(x), model(x)
    got = int8(x)
    print(f"int8 vs its reference ops {_rel(got, reference):.3g}, vs float32 "
          f"{_rel(got, want):.3g} (reduce_range {int8.reduce_range})")
    assert _rel(got, reference) <= rel_tol("int8"), _rel(got, reference)


def test_cli_int8_without_calibration_is_a_one_line_error(tmp_path, capsys) -> None:  # noqa: ANN001
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    code = main(["predict", str(image), "--model", "inception_v4", "--weights",
                 str(tmp_path / "none"), "--dtype", "int8"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1
    assert "--dtype int8 needs --calibration DATA" in err


def test_cli_calibration_without_int8_is_an_error(tmp_path, capsys) -> None:  # noqa: ANN001
    code = main(["evaluate", "--weights", str(tmp_path / "none"), "--data", str(tmp_path),
                 "--calibration", str(tmp_path)])
    assert code != 0
    assert "--calibration is for --dtype int8 only" in capsys.readouterr().err


@pytest.mark.slow
def test_export_int8_program_reloads_within_the_int8_bound(tmp_path, shared_dir) -> None:  # noqa: ANN001
    """``export --dtype int8`` writes the quantized torch.export program; reloaded, it runs
    (reference quantize/dequantize ops) within int8's bound of the float32 network."""
    pytest.importorskip("torchao")
    data = shared_dir / "datasets" / "imagenette-96"
    if not data.is_dir():
        pytest.skip(f"{data} not found")
    out = tmp_path / "int8.pt2"
    assert main(["export", "--model", "inception_resnet_v2", "--width", "0.25", "--depth", "0.2",
                 "--format", "exported-program", "--out", str(out),
                 "--dtype", "int8", "--calibration", str(data)]) == 0
    assert torch.export.load(str(out)).module()(torch.randn(3, 3, 299, 299)).shape == (3, 1000)


def test_export_int8_needs_the_program_format(tmp_path, capsys) -> None:  # noqa: ANN001
    code = main(["export", "--model", "inception_v4", "--width", "0.25", "--depth", "0.2",
                 "--format", "onnx", "--out", str(tmp_path / "x.onnx"), "--dtype", "int8",
                 "--calibration", str(tmp_path)])
    assert code != 0 and "use --format exported-program" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_predict_compile_gives_the_eager_probabilities(tmp_path) -> None:  # noqa: ANN001
    """``predict --compile`` reaches the compiled graph: the same top classes and
    probabilities (within float32's bound) as eager float32, from the same saved weights."""
    import json

    from PIL import Image

    from inception_v4.weights import save_pretrained

    save_pretrained(_calibrated("inception_v4"), tmp_path / "w")
    g = torch.Generator().manual_seed(4)
    for i in range(2):
        pixels = (torch.rand(120, 140, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    results = []
    for extra in ([], ["--compile"]):
        out = tmp_path / f"p{len(extra)}.json"
        assert main(["predict", str(tmp_path / "0.png"), str(tmp_path / "1.png"), "--weights",
                     str(tmp_path / "w"), "--json", str(out), *extra]) == 0
        results.append(json.loads(out.read_text()))
    for eager, compiled in zip(results[0]["predictions"], results[1]["predictions"], strict=True):
        assert [r["class"] for r in eager["top"]] == [r["class"] for r in compiled["top"]]
        for a, b in zip(eager["top"], compiled["top"], strict=True):
            assert abs(a["probability"] - b["probability"]) <= rel_tol("float32")
