"""Export: ONNX checked with ONNX Runtime, torch.export round trips, the `export` command."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from torch import nn

import inception_v4
from inception_v4 import export
from inception_v4.cli import main
from inception_v4.models.inception_resnet_v1 import Residual

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TINY = {"width": 0.25, "depth": 0.2, "num_classes": 10}
SIZE = 96


def _tiny(name: str = "inception_resnet_v2", **kw: object) -> nn.Module:
    return inception_v4.create_model(name, **{**TINY, **kw})


def _convs(model: nn.Module, skip: str = "aux_head") -> int:
    return sum(isinstance(m, nn.Conv2d) for n, m in model.named_modules()
               if not n.startswith(skip))


def _run_onnx(path: object, x: torch.Tensor) -> torch.Tensor:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def test_onnx_graph_is_the_eval_network_and_matches_pytorch(tmp_path, process_unchanged):
    model = _tiny(aux_logits=True, drop_rate=0.5)
    path = export.export_onnx(model, tmp_path / "m.onnx", image_size=SIZE, dynamic_batch=True)
    graph = onnx.load(str(path))
    ops = [n.op_type for n in graph.graph.node]
    assert "Dropout" not in ops
    # Every convolution of the main network, none of the auxiliary head's 2.
    assert ops.count("Conv") == _convs(model) == _convs(model, skip="-") - 2
    assert [o.name for o in graph.graph.output] == ["output"]
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert graph.opset_import[0].version == 17
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["architecture"] == "inception_resnet_v2"
    assert json.loads(meta["init_args"])["width"] == 0.25
    model.eval()
    for batch in (1, 3):
        x = torch.randn(batch, 3, SIZE, SIZE)
        with torch.no_grad():
            want = model(x)
        assert (_run_onnx(path, x) - want).abs().max() < 1e-4
    assert export.check_onnx(model, path, image_size=SIZE, batch_size=3) < 1e-4


def test_check_onnx_fails_when_the_graph_is_not_the_model(tmp_path, process_unchanged):
    model = _tiny()
    path = export.export_onnx(model, tmp_path / "m.onnx", image_size=SIZE)
    assert export.check_onnx(model, path, image_size=SIZE) < 1e-4
    other = _tiny()  # same architecture, other random weights
    with pytest.raises(export.ExportCheckError, match="differs from PyTorch by"):
        export.check_onnx(other, path, image_size=SIZE)


def test_static_batch_onnx_keeps_its_batch_size(tmp_path):
    path = export.export_onnx(_tiny("inception_v4"), tmp_path / "m.onnx", image_size=SIZE,
                              dynamic_batch=False, batch_size=4)
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 4 and not dim.dim_param


def test_exported_program_round_trip_without_training_branches(tmp_path):
    model = _tiny("inception_resnet_v1_facenet", aux_logits=True, drop_rate=0.5)
    path = export.export_program(model, tmp_path / "m.pt2", image_size=SIZE, dynamic_batch=True)
    program = torch.export.load(str(path))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("dropout" in t for t in targets), targets
    assert not any(k.startswith("aux_head") for k in program.state_dict)
    assert any(k.startswith("head.fc") for k in program.state_dict)
    model.eval()
    x = torch.randn(3, 3, SIZE, SIZE)  # exported with batch 2: the batch axis is dynamic
    with torch.no_grad():
        assert torch.allclose(program.module()(x), model(x), atol=1e-5)
    assert export.check_program(model, path, image_size=SIZE, batch_size=3) < 1e-5


def test_optimized_exports_fold_batchnorm_and_residual_scales(tmp_path):
    model = _tiny(aux_logits=True)
    plain = onnx.load(str(export.export_onnx(model, tmp_path / "plain.onnx", image_size=SIZE)))
    path = export.export_onnx(model, tmp_path / "fused.onnx", image_size=SIZE, optimize=True)
    fused = onnx.load(str(path))
    plain_ops = [n.op_type for n in plain.graph.node]
    fused_ops = [n.op_type for n in fused.graph.node]
    blocks = sum(isinstance(m, Residual) for m in model.modules())
    assert plain_ops.count("Mul") == blocks  # x + scale · project(...)
    assert "Mul" not in fused_ops and "BatchNormalization" not in fused_ops
    assert fused_ops.count("Conv") == plain_ops.count("Conv")
    assert {p.key: p.value for p in fused.metadata_props}["optimized"] == "true"
    assert export.check_onnx(model, path, image_size=SIZE) < 1e-4  # against the unfused model

    path = export.export_program(model, tmp_path / "fused.pt2", image_size=SIZE, optimize=True)
    program = torch.export.load(str(path))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("batch_norm" in t or "mkldnn" in t or "mul" in t for t in targets), targets
    assert export.check_program(model, path, image_size=SIZE) < 1e-4


def test_export_command_optimize_for_inference(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    rc = main(["export", "--model", "inception_resnet_v1_facenet", "--format", "onnx",
               "--width", "0.25", "--depth", "0.2", "--image-size", str(SIZE),
               "--optimize-for-inference", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert "BatchNormalization" not in ops and "Mul" not in ops


def test_prepare_for_export_leaves_the_model_alone():
    model = _tiny(aux_logits=True).train()
    net = export.prepare_for_export(model)
    assert model.training and model.aux_head is not None
    assert not net.training and net.aux_head is None
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())


def test_export_command_onnx(tmp_path, capsys):
    out = tmp_path / "sub" / "m.onnx"
    rc = main(["export", "--model", "inception_resnet_v1", "--format", "onnx", "--width", "0.25",
               "--depth", "0.2", "--num-classes", "7", "--image-size", str(SIZE),
               "--dynamic-batch", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0 and out.is_file()
    assert "randomly initialised" in captured.err
    diff = float(captured.out.split("max abs difference to PyTorch ")[1].split()[0])
    assert 0 <= diff <= 1e-4
    x = torch.randn(5, 3, SIZE, SIZE)
    assert _run_onnx(out, x).shape == (5, 7)


def test_export_command_loads_saved_weights(tmp_path, capsys):
    model = _tiny("inception_v4").eval()
    inception_v4.save_pretrained(model, tmp_path / "w")
    out = tmp_path / "m.onnx"
    rc = main(["export", "--model", "inception_v4", "--weights", str(tmp_path / "w"),
               "--format", "onnx", "--image-size", str(SIZE), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "randomly" not in capsys.readouterr().err
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want = model(x)
    assert (_run_onnx(out, x) - want).abs().max() < 1e-4  # the saved weights, not a new init


def test_export_command_exported_program(tmp_path, capsys):
    out = tmp_path / "m.pt2"
    rc = main(["export", "--model", "inception_resnet_v2_paper", "--format", "exported-program",
               "--width", "0.25", "--depth", "0.2", "--image-size", str(SIZE), "--out", str(out)])
    assert rc == 0 and "max abs difference" in capsys.readouterr().out
    program = torch.export.load(str(out))
    assert program.module()(torch.randn(2, 3, SIZE, SIZE)).shape == (2, 1000)


@pytest.mark.parametrize("argv, message", [
    (["--opset", "16"], "opset 16 is too old"),
    (["--image-size", "64"], "below the minimum 75"),
    (["--weights", "nowhere/w.safetensors"], "nowhere"),
])
def test_export_command_rejects_bad_input(tmp_path, capsys, argv, message):
    rc = main(["export", "--model", "inception_v4", "--format", "onnx", "--width", "0.25",
               "--depth", "0.2", "--out", str(tmp_path / "m.onnx"), *argv])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_export_command_rejects_weights_of_another_model(tmp_path, capsys):
    inception_v4.save_pretrained(_tiny("inception_resnet_v1"), tmp_path / "w")
    rc = main(["export", "--model", "inception_v4", "--weights", str(tmp_path / "w"),
               "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert rc == 2
    assert "holds inception_resnet_v1 weights" in capsys.readouterr().err


def test_export_command_without_onnxruntime_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    rc = main(["export", "--model", "inception_v4", "--format", "onnx", "--width", "0.25",
               "--depth", "0.2", "--image-size", str(SIZE), "--out", str(tmp_path / "m.onnx")])
    assert rc == 1
    assert "pip install onnx onnxruntime" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_full_size_inception_v4_onnx(tmp_path, capsys):
    """The real network at 299×299 through the command (about 15 s on 2 cores)."""
    out = tmp_path / "v4.onnx"
    rc = main(["export", "--model", "inception_v4", "--format", "onnx", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    graph = onnx.load(str(out))
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, 299, 299]
    convs = _convs(inception_v4.create_model("inception_v4"))
    assert [n.op_type for n in graph.graph.node].count("Conv") == convs


def test_default_onnx_export_runs_batches_of_1_and_3_in_onnx_runtime(tmp_path, capsys):
    """No batch flag: the batch axis is symbolic and the printed shape says so; ONNX Runtime
    runs one image and three, each matching PyTorch."""
    model = _tiny("inception_v4").eval()
    inception_v4.save_pretrained(model, tmp_path / "w")
    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(tmp_path / "w"), "--format", "onnx",
                 "--image-size", str(SIZE), "--out", str(out)]) == 0
    assert f"input [batch, 3, {SIZE}, {SIZE}] float32 (any batch size)" in capsys.readouterr().out
    for n in (1, 3):
        x = torch.randn(n, 3, SIZE, SIZE)
        with torch.no_grad():
            want = model(x)
        torch.testing.assert_close(torch.as_tensor(_run_onnx(out, x)), want, atol=1e-4,
                                   rtol=1e-4)
