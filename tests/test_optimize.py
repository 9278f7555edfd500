"""What the speed work changes must not change results: the fused inference graph against the
plain model, checkpointed training against plain training, the benchmark's shared weights."""

from __future__ import annotations

import copy
import importlib.util
import json
import statistics
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from memory_helpers import peak_allocated_bytes
from onednn_cap import onednn_held_below_bf16
from torch import nn

import inception_v4
from inception_v4 import create_model, list_models
from inception_v4.cli import main
from inception_v4.inference import FusedConv, FusedResidual, PoolAfterConv, fuse_conv_bn
from inception_v4.layers import ConvBN, ShiftBatchNorm2d
from inception_v4.models import PoolBranch, optimize_for_training
from inception_v4.models.complexity import count_macs
from inception_v4.tolerances import rel_tol

SMALL = {"width": 0.25, "depth": 0.2}


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones are 0/1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
    return model


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("channels_last", [True, False])
def test_fused_matches_unfused_on_every_network(name: str, channels_last: bool) -> None:
    model = randomise_bn(create_model(name, **SMALL)).eval()
    fused = inception_v4.optimize_for_inference(model, channels_last=channels_last)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expect = model(x)
        got = fused(x)
        got_nhwc = fused(x.contiguous(memory_format=torch.channels_last))
    assert expect.abs().max() > 0.05  # a real signal, not all zeros
    torch.testing.assert_close(got, expect, atol=1e-4, rtol=0)
    torch.testing.assert_close(got_nhwc, expect, atol=1e-4, rtol=0)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), expect, atol=1e-4, rtol=0)


@pytest.mark.isa
@pytest.mark.parametrize("name", list_models())
def test_bf16_graph_takes_and_returns_float32_within_1e_2(name: str) -> None:
    """BatchNorm folded in float64, then cast: float32 images in either layout, float32
    logits out, max relative error to the eager float32 model at most 1e-2."""
    model = randomise_bn(create_model(name, **SMALL)).eval()
    bf16 = inception_v4.optimize_for_inference(model, dtype=torch.bfloat16)
    assert bf16.stem.conv1a.weight.dtype == torch.bfloat16
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        expect = model(x)
        for images in (x, x.contiguous(memory_format=torch.channels_last)):
            got = bf16(images)
            assert got.dtype == torch.float32 and got.shape == expect.shape
            rel = float((got - expect).abs().max() / expect.abs().max())
            assert rel <= 1e-2, rel
    with pytest.raises(ValueError, match="dtype must be one of float32, bfloat16, int8"):
        inception_v4.optimize_for_inference(model, dtype=torch.float16)


def test_fused_full_size_inception_resnet_v2() -> None:
    model = randomise_bn(create_model("inception_resnet_v2")).eval()
    fused = inception_v4.optimize_for_inference(model)
    x = torch.randn(1, 3, 75, 75)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=0)


def test_fused_without_onednn_uses_plain_convolutions(monkeypatch) -> None:  # noqa: ANN001
    from inception_v4.inference import fused as fuse

    model = randomise_bn(create_model("inception_resnet_v2", **SMALL)).eval()
    fused = inception_v4.optimize_for_inference(model)
    monkeypatch.setattr(fuse, "_HAS_POINTWISE", False)  # as on CUDA or without mkldnn
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=0)


def test_fused_graph_has_no_batchnorm_dropout_or_trainable_parameter() -> None:
    model = create_model("inception_resnet_v1_facenet", **SMALL)
    model.train()
    fused = inception_v4.optimize_for_inference(model)
    kinds = {type(m) for m in fused.modules()}
    assert not any(issubclass(k, (nn.modules.batchnorm._BatchNorm, nn.Dropout, ConvBN))
                   for k in kinds)
    assert {FusedConv, FusedResidual} <= kinds
    assert not fused.training and not any(p.requires_grad for p in fused.parameters())
    assert model.training and isinstance(model.stem.conv1a, ConvBN)  # the original untouched
    assert fused.stem.conv1a.weight.is_contiguous(memory_format=torch.channels_last)


def test_pool_branch_reordered_and_exact_at_borders() -> None:
    model = randomise_bn(create_model("inception_v4", **SMALL)).eval()
    block = model.stages[0][0]  # Inception-A: its 4th branch is avgpool → 1×1 conv
    fused = inception_v4.optimize_for_inference(block)
    assert isinstance(fused.branches[3], PoolAfterConv)
    x = torch.rand(2, block.branches[0].conv.in_channels, 3, 5)  # every pixel near a border
    with torch.no_grad():
        torch.testing.assert_close(fused(x), block(x), atol=1e-5, rtol=0)


def test_fold_bn_without_learned_scale() -> None:
    unit = create_model("inception_resnet_v1_facenet", **SMALL).stem.conv1a  # TF scale=False
    assert isinstance(unit.bn, ShiftBatchNorm2d)
    randomise_bn(unit, seed=3).eval()
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(unit)(x), unit(x), atol=1e-5, rtol=0)


def test_optimize_rejects_a_non_module() -> None:
    with pytest.raises(ValueError, match="nn.Module"):
        inception_v4.optimize_for_inference("inception_v4")


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = model(x)
    logits, aux = out if isinstance(out, tuple) else (out, None)
    loss = F.cross_entropy(logits, y)
    if aux is not None:
        loss = loss + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    return loss.detach()


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2",
                                  "inception_resnet_v1_facenet"])
def test_checkpointed_gradients_and_statistics_match_plain(name: str) -> None:
    plain = create_model(name, num_classes=5, aux_logits=True, **SMALL).train()
    ckpt = copy.deepcopy(plain)
    ckpt.set_grad_checkpointing()
    x, y = torch.randn(3, 3, 80, 80), torch.tensor([0, 3, 4])
    torch.manual_seed(1)  # dropout draws the same mask in both
    loss_plain = _train_step(plain, x, y)
    torch.manual_seed(1)
    loss_ckpt = _train_step(ckpt, x, y)
    torch.testing.assert_close(loss_ckpt, loss_plain, atol=1e-6, rtol=0)
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        if p.grad is None:
            assert q.grad is None, n
            continue
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-5, msg=n)
    # recomputation in backward must not update the BN running statistics a second time
    for (n, b), c in zip(plain.named_buffers(), ckpt.buffers(), strict=True):
        torch.testing.assert_close(c, b, atol=0, rtol=0, msg=n)


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_optimize_for_training_keeps_names_and_gradients(name: str) -> None:
    # float64: the reordered pool branch is exact in real arithmetic, so only rounding differs
    plain = create_model(name, num_classes=5, **SMALL).double().train()
    fast = optimize_for_training(copy.deepcopy(plain))
    assert [n for n, _ in fast.named_parameters()] == [n for n, _ in plain.named_parameters()]
    assert any(isinstance(m, PoolBranch) for m in fast.modules())
    assert fast.stem.conv1a.conv.weight.is_contiguous(memory_format=torch.channels_last)
    x, y = torch.randn(3, 3, 96, 96, dtype=torch.float64), torch.tensor([0, 3, 4])
    for model in (plain, fast):
        torch.manual_seed(1)
        _train_step(model, x, y)
    for (n, p), q in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-10, rtol=1e-8, msg=n)
    for (n, b), c in zip(plain.named_buffers(), fast.buffers(), strict=True):
        torch.testing.assert_close(c, b, atol=1e-10, rtol=1e-8, msg=n)


def test_optimize_for_training_needs_a_network_for_checkpointing() -> None:
    with pytest.raises(ValueError, match="set_grad_checkpointing"):
        optimize_for_training(nn.Sequential(nn.Conv2d(3, 8, 3)), checkpointing=True)
    model = optimize_for_training(create_model("inception_v4", **SMALL), checkpointing=True)
    assert model.grad_checkpointing


def _peak_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes above the start during forward + backward."""
    return peak_allocated_bytes(lambda: model(x).sum().backward())


def test_checkpointing_cuts_peak_training_memory() -> None:
    model = create_model("inception_v4", **SMALL).train()
    x = torch.randn(2, 3, 149, 149)
    model(x).sum().backward()  # gradients allocated once, so both runs only accumulate
    plain = _peak_bytes(model, x)
    model.set_grad_checkpointing()
    ckpt = _peak_bytes(model, x)
    assert ckpt < 0.5 * plain


def test_checkpointing_off_in_eval_and_no_grad() -> None:
    model = randomise_bn(create_model("inception_resnet_v1", **SMALL)).eval()
    x = torch.randn(1, 3, 80, 80)
    with torch.no_grad():
        expect = model(x)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(x), expect, atol=0, rtol=0)


def test_timm_twin_shares_weights_and_outputs() -> None:
    pytest.importorskip("timm")
    from inception_v4.bench.twins import check_same_outputs, copy_by_order, timm_twin

    ours = create_model("inception_v4", drop_rate=0.2)
    theirs = timm_twin("inception_v4", ours, 0.2, image_size=75)
    assert theirs is not None
    assert check_same_outputs(ours, theirs, 75) < 1e-4
    other = create_model("inception_v4")  # the fallback mapping gives the same network
    copy_by_order(other, theirs.state_dict())
    assert check_same_outputs(other, theirs, 75) < 1e-4
    with pytest.raises(ValueError, match="cannot pair weights"):
        copy_by_order(create_model("inception_resnet_v1"), theirs.state_dict())
    assert timm_twin("inception_resnet_v1", ours, 0.2) is None


# The bench, then training, in one process (issue: a fresh clone's suite crashed here on a CPU
# with bf16). OpenVINO is asked for a bf16 model on every CPU, so that two compiled models
# exist everywhere (a CPU without bf16 runs the hint at f32): two Cores, destroyed in creation
# order, left the main thread's alternate signal stack dangling, and the SIGCHLD of the first
# exiting DataLoader worker killed the process (inception_v4.runtimes.openvino_core).
BENCH_THEN_TRAIN = """
import sys
from inception_v4 import runtimes
from inception_v4.cli import main
import torch
runtimes.openvino_has_bf16 = lambda: sys.argv[3] == "bf16"
torch.set_num_threads(1)
assert main(["bench", "--model", "inception_resnet_v1", "--mode", "infer", "--compare", "none",
             "--image-size", "75", "--batch-size", "1", "--repeats", "2", "--warmup", "0",
             "--no-memory", "--no-compiled", "--matmul-size", "256", "--threads", "2",
             "--json", sys.argv[1]]) == 0
assert torch.get_num_threads() == 1, "bench left its own thread count behind"
assert main(["train", "--preset", "small", "--data", "embedded", "--out", sys.argv[2],
             "--max-steps", "2", "--workers", "2", "--set", "eval_max_images=32"]) == 0
print("bench then train: done")
"""


@pytest.mark.isa
def test_bench_command_writes_rows_and_json_then_training_runs(tmp_path) -> None:  # noqa: ANN001
    """Ours beside ONNX Runtime and OpenVINO (f32 and bf16) on our exported graph: every
    contestant's logits within its dtype's bound of eager float32 (inception_v4.tolerances),
    speed and the dense-kernel limit consistent; then training in the same process exits 0."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    out = tmp_path / "bench.json"
    # OpenVINO compiles at bf16 on every CPU (a second compiled model: the crash of
    # benchmarks/openvino_sigaltstack.py), except where oneDNN is held below bf16 on a bf16 CPU
    # (tests/isa_levels.py): its plugin then finds no bf16 kernel; int8 is the second model there
    ov_bf16 = not onednn_held_below_bf16()
    done = subprocess.run([sys.executable, "-c", BENCH_THEN_TRAIN, str(out), str(tmp_path / "run"),
                           "bf16" if ov_bf16 else "f32"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0 and "bench then train: done" in done.stdout, (
        f"exit {done.returncode} (negative: killed by that signal)\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    rows = {r["impl"]: r for r in result["rows"]}
    assert {"ours", "ort", "ort-int8", "openvino"} | ({"openvino-bf16"} if ov_bf16 else set()) \
        <= set(rows)
    if importlib.util.find_spec("nncf") is not None:
        assert "openvino-int8" in rows
    row = rows["ours"]
    assert len(row["times_s"]) == 2
    median = statistics.median(row["times_s"])
    assert row["images_per_s"] == pytest.approx(1 / median)
    macs = count_macs(create_model("inception_resnet_v1"), 75)
    assert row["gflops"] == pytest.approx(2 * macs / median / 1e9)
    limit = result["limit_gflops"]["float32"]
    assert limit == max(max(result[k]["float32"].values())
                        for k in ("dense_limits_before", "dense_limits_after"))
    assert row["peak_fraction"] == pytest.approx(row["gflops"] / limit)
    for r in rows.values():
        dtype = r["config"].get("dtype", "float32")
        # int8 here: a random network calibrated on 32 other random images (measured 0.17 on
        # one run against the bound's 0.16); its bound is asserted in tests/test_runtimes.py,
        # here only that it is not broken (a broken path is off by ~1)
        bound = 0.5 if dtype == "int8" else rel_tol(dtype)
        assert 0 <= r["max_rel_err"] <= bound, (r["impl"], dtype, r["max_rel_err"])
    peers = {p["peer"] for p in result["ratios"] if p["family"] == "runtime-float32"}
    assert len(peers) == 1 and peers <= {"ort", "openvino"}  # the faster of the two
    assert result["settings"]["batch_size"] == 1 and "cpu_flags" in result["machine"]


def test_bench_command_names_bad_settings(capsys, process_unchanged) -> None:  # noqa: ANN001
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["bench", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err
