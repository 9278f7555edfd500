"""The bench table's arithmetic: ours over the fastest peer of the same dtype, each error
judged by its dtype's bound (inception_v4.tolerances), training contestants under bf16
autocast beside float32."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from inception_v4.bench import runner
from inception_v4.bench.contestants import Settings
from inception_v4.bench.runner import judged, ratios
from inception_v4.models import build_network
from inception_v4.tolerances import rel_tol


def _row(impl: str, speed: float, dtype: str, runtime: str | None = None) -> dict:
    config = {"dtype": dtype, **({"runtime": runtime} if runtime else {})}
    return {"model": "m", "mode": "infer", "impl": impl, "images_per_s": speed,
            "config": config}


def test_ratios_compare_ours_with_the_fastest_peer_of_its_own_dtype() -> None:
    rows = [_row("ours", 8.0, "float32"), _row("ours-bf16", 16.0, "bfloat16"),
            _row("timm", 4.0, "float32"), _row("timm-cl", 6.0, "float32"),
            _row("ort", 10.0, "float32", "onnxruntime"),
            _row("openvino", 9.0, "float32", "openvino"),
            _row("openvino-bf16", 20.0, "bfloat16", "openvino"),
            _row("openvino-int8", 32.0, "int8", "openvino")]
    got = {(p["ours"], p["peer"]): p["speed_ratio"] for p in ratios(rows)}
    assert got == {("ours", "timm-cl"): pytest.approx(8 / 6),
                   ("ours", "ort"): pytest.approx(8 / 10),
                   ("ours-bf16", "openvino-bf16"): pytest.approx(16 / 20)}


def test_each_error_is_judged_by_its_dtypes_bound() -> None:
    assert judged(None, "float32") == {"max_rel_err": None}
    assert judged(5e-5, "float32")["within_tol"] and not judged(2e-4, "float32")["within_tol"]
    assert judged(5e-2, "bfloat16") == {"max_rel_err": 5e-2, "rel_tol": rel_tol("bfloat16"),
                                        "within_tol": True}
    assert judged(0.1, "int8")["within_tol"] and not judged(0.5, "int8")["within_tol"]
    with pytest.raises(KeyError, match="no tolerance for dtype 'float16'"):
        judged(0.1, "float16")


def test_training_is_timed_at_float32_and_under_bf16_autocast(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At float32 the training contestants include ours and timm channels-last under bf16
    autocast; their convolutions then compute in bf16, the float32 ones in float32. (Small
    networks stand in for ours and timm's, so that this runs in seconds.)"""
    small = functools.partial(build_network, width=0.25, depth=0.2)
    monkeypatch.setattr(runner, "build_network", small)
    monkeypatch.setattr(runner, "timm_twin", lambda name, ours, *_: copy.deepcopy(ours))
    s = Settings(batch_size=2, image_size=75, threads=1)
    contestants, _ = runner.train_contestants("inception_v4", s)
    by_label = {c.label: c for c in contestants}
    assert {"ours", "ours-amp", "timm-cl", "timm-cl-amp"} <= set(by_label)
    assert by_label["ours-amp"].config["amp"] == "bf16"
    assert by_label["timm-cl-amp"].config == {"mode": "train", "channels_last": True,
                                              "amp": "bf16", "dtype": "bfloat16"}
    seen: list[torch.dtype] = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda m, i, o: seen.append(o.dtype) if isinstance(m, torch.nn.Conv2d) else None)
    try:
        for label, dtype in [("ours-amp", torch.bfloat16), ("timm-cl-amp", torch.bfloat16),
                             ("ours", torch.float32), ("timm-cl", torch.float32)]:
            seen.clear()
            by_label[label].run()
            assert seen and set(seen) == {dtype}, label
    finally:
        hook.remove()
