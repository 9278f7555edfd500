"""The networks against the paper's tables and golden counts (docs/golden-counts.md)."""

from __future__ import annotations

import pytest
import torch

from inception_v4 import create_model, list_models
from inception_v4.models import MIN_INPUT_SIZE, get_spec
from inception_v4.models.complexity import count_macs, count_params, stage_table
from inception_v4.models.inception_resnet_v1 import Residual

IMAGENET_NETS = ["inception_v4", "inception_resnet_v2", "inception_resnet_v1"]

# BN with scale and shift, no aux head (timm-style counts; docs/golden-counts.md).
GOLDEN_PARAMS = {
    "inception_v4": (42_679_816, 42_681_353),
    "inception_resnet_v2": (55_843_464, 55_845_001),
    "inception_resnet_v1": (22_756_328, 22_758_121),
}
GOLDEN_MACS_299 = {
    "inception_v4": 12_253_974_624,
    "inception_resnet_v2": 13_155_794_016,
    "inception_resnet_v1": 6_206_361_696,
}
# Output grid of each table row at the minimum input (75×75), by hand from the VALID strides.
GRID_AT_75 = {
    "inception_v4": [7, 7, 3, 3, 1, 1],
    "inception_resnet_v1": [7, 7, 3, 3, 1, 1],
    "inception_resnet_v2": [7, 7, 7, 3, 3, 1, 1, 1, 1],
    "inception_resnet_v2_paper": [7, 7, 3, 3, 1, 1],
    "inception_resnet_v1_facenet": [7, 7, 3, 3, 1, 1, 1],
}


def test_registry_lists_the_five_networks() -> None:
    assert list_models() == sorted(GRID_AT_75)


@pytest.mark.parametrize("name", IMAGENET_NETS)
def test_parameter_counts_match_golden_values(name: str) -> None:
    p1000, p1001 = GOLDEN_PARAMS[name]
    assert count_params(create_model(name)) == p1000
    assert count_params(create_model(name, num_classes=1001)) == p1001


@pytest.mark.parametrize("name", IMAGENET_NETS)
def test_multiply_adds_at_299_match_golden_values(name: str) -> None:
    assert count_macs(create_model(name), 299) == GOLDEN_MACS_299[name]


def test_paper_literal_inception_resnet_v2_counts() -> None:
    model = create_model("inception_resnet_v2_paper")
    # docs/errata.md E14: "32.43 M parameters" and "9.26 G" for this resolution.
    assert count_params(model) == 32_433_928
    assert round(count_macs(model, 299) / 1e9, 2) == 9.26
    assert [r.actual[0] for r in stage_table(model)] == [384, 384, 1152, 1152, 2144, 2144]


@pytest.mark.parametrize("name", sorted(GRID_AT_75))
def test_stage_shapes_match_table_rows_at_299(name: str) -> None:
    rows = stage_table(create_model(name), 299)
    assert [r.actual for r in rows] == [r.declared for r in rows]


@pytest.mark.parametrize("name", sorted(GRID_AT_75))
def test_stage_shapes_at_minimum_input(name: str) -> None:
    spec = get_spec(name)
    rows = stage_table(create_model(name), MIN_INPUT_SIZE)
    expected = [(s.out[1], g, g) for s, g in zip(spec.stages, GRID_AT_75[name], strict=True)]
    assert [r.actual for r in rows] == expected


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_input_below_minimum_names_the_minimum(name: str) -> None:
    model = create_model(name, width=0.25).eval()
    with pytest.raises(ValueError, match="at least 75×75"):
        model(torch.zeros(1, 3, 74, 80))
    with pytest.raises(ValueError, match="in_chans=3"):
        model(torch.zeros(1, 1, 80, 80))


def test_num_classes_7_gives_7_logits_and_every_parameter_gets_a_gradient() -> None:
    model = create_model("inception_resnet_v2", num_classes=7, width=0.25, depth=0.2)
    model.train()
    out = model(torch.randn(2, 3, 75, 75))
    assert out.shape == (2, 7)
    out.square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_features_only_gives_five_maps_at_strides_2_to_32() -> None:
    model = create_model("inception_v4", features_only=True, width=0.25)
    assert model.feature_info.reduction() == [2, 4, 8, 16, 32]
    assert model.feature_info.channels() == [16, 48, 96, 256, 384]
    maps = model(torch.randn(1, 3, 299, 299))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (16, 147, 147), (48, 71, 71), (96, 35, 35), (256, 17, 17), (384, 8, 8)]
    two = create_model("inception_resnet_v2", features_only=True, out_indices=(3, 4))
    assert two.feature_info.channels() == [1088, 1536]


def test_width_rounds_to_multiples_of_8_and_depth_scales_repeats() -> None:
    model = create_model("inception_resnet_v2", width=0.1, depth=0.5)
    widths = {m.out_channels for m in model.modules() if hasattr(m, "out_channels")}
    assert all(c % 8 == 0 and c >= 8 for c in widths)
    assert [len(s) for s in model.stages] == [1, 5, 1, 10, 1, 4, 1, 1]
    wide = create_model("inception_resnet_v2", width=2.0, depth=0.1)
    assert wide.num_features == 3072 and wide.stages[3][0].out_channels == 2176


def test_residual_scale_override_keeps_the_unscaled_final_block() -> None:
    model = create_model("inception_resnet_v2", residual_scale=1.0, width=0.25, depth=0.2)
    scales = [(b.scale, b.activate) for b in model.modules() if isinstance(b, Residual)]
    assert set(scales) == {(1.0, True), (1.0, False)}
    default = create_model("inception_resnet_v2", width=0.25, depth=0.2)
    assert sorted({b.scale for b in default.modules() if isinstance(b, Residual)}) == [
        0.1, 0.17, 0.2, 1.0]


def test_plain_variant_has_same_cost_and_no_identity_path() -> None:
    res = create_model("inception_resnet_v2", width=0.25, depth=0.2)
    plain = create_model("inception_resnet_v2", width=0.25, depth=0.2, residual=False)
    assert count_params(res) == count_params(plain)
    assert count_macs(res, 96) == count_macs(plain, 96)
    x = torch.rand(1, res.stages[1][0].out_channels, 9, 9)  # post-ReLU activations
    for model, expect in ((res, x), (plain, torch.zeros_like(x))):
        block = model.stages[1][0].eval()
        torch.nn.init.zeros_(block.project.weight)
        torch.nn.init.zeros_(block.project.bias)
        torch.testing.assert_close(block(x.clone()), expect)


def test_aux_head_only_in_training_mode() -> None:
    model = create_model("inception_v4", aux_logits=True, num_classes=5, width=0.25, depth=0.2)
    logits, aux = model.train()(torch.randn(2, 3, 299, 299))
    assert logits.shape == aux.shape == (2, 5)
    assert model.eval()(torch.randn(1, 3, 96, 96)).shape == (1, 5)
    assert model.aux_head.conv2.conv.kernel_size == (5, 5)


def test_reset_classifier_and_pre_logits() -> None:
    model = create_model("inception_resnet_v1", width=0.25, depth=0.2).eval()
    model.reset_classifier(3)
    x = torch.randn(1, 3, 96, 96)
    assert model(x).shape == (1, 3)
    feats = model.forward_head(model.forward_features(x), pre_logits=True)
    assert feats.shape == (1, model.num_features)
    model.reset_classifier(0)
    torch.testing.assert_close(model(x), feats)


def test_facenet_variant_has_shift_only_bn_and_128d_head() -> None:
    model = create_model("inception_resnet_v1_facenet")
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.endswith("bn.weight") for n in names)
    assert model.head.fc.bias is None and model.head.fc.out_features == 128
    last = model.stages[-1][0]
    assert (last.scale, last.activate) == (1.0, False)
    assert model.pretrained_cfg["input_size"] == (3, 160, 160)
    assert model.eval()(torch.randn(2, 3, 160, 160)).shape == (2, 128)


def test_released_irv2_block_counts_and_avgpool_excludes_padding() -> None:
    model = create_model("inception_resnet_v2")
    assert [len(s) for s in model.stages] == [1, 10, 1, 20, 1, 9, 1, 1]
    pool = model.stages[0][0].branches[3][0]
    assert pool.count_include_pad is False
    ones = torch.ones(1, 1, 5, 5)
    torch.testing.assert_close(pool(ones), ones)  # TF 'SAME' average: borders stay 1


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unknown model 'inception_v3'"):
        create_model("inception_v3")
    with pytest.raises(ValueError, match="width"):
        create_model("inception_v4", width=0)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("inception_v4", num_classes=-1)
    with pytest.raises(ValueError, match="drop_rate"):
        create_model("inception_v4", drop_rate=1.5)


def test_reset_classifier_updates_the_recorded_constructor_args() -> None:
    model = create_model("inception_v4", width=0.25, depth=0.2)
    model.reset_classifier(12)
    assert model.init_args["num_classes"] == 12 and model.num_classes == 12


def test_create_model_takes_exactly_build_networks_arguments_with_the_same_defaults() -> None:
    """The factory (``inception_v4.create_model``) restates ``build_network``'s signature
    and adds only the weights and the features form: the two may never drift apart."""
    import inspect

    from inception_v4.models import build_network

    factory = dict(inspect.signature(create_model).parameters)
    for extra in ("pretrained", "features_only", "out_indices"):
        factory.pop(extra)
    network = inspect.signature(build_network).parameters
    assert [(p.name, p.default) for p in factory.values()] == [
        (p.name, p.default) for p in network.values()]
