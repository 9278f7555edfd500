"""timm interop: our networks through timm.create_model and timm's data config."""

from __future__ import annotations

import pytest
import torch

import inception_v4
from inception_v4 import timm_compat

timm = pytest.importorskip("timm")
from timm.data import resolve_data_config  # noqa: E402

TINY = {"width": 0.25, "depth": 0.2}


@pytest.fixture(scope="module", autouse=True)
def _registered() -> list[str]:
    return timm_compat.register()


def test_register_adds_prefixed_names_beside_timms_own(_registered):
    assert _registered == [f"iv4_{n}" for n in inception_v4.list_models()]
    assert sorted(timm.list_models("iv4_*")) == sorted(_registered)
    assert timm.is_model("inception_v4")  # timm's own name is untouched
    assert timm_compat.register() == _registered  # idempotent


def test_create_model_through_timm_equals_ours():
    model = timm.create_model("iv4_inception_v4", pretrained=False, num_classes=10, **TINY)
    assert isinstance(model, inception_v4.models.Network) and model.num_classes == 10
    ours = inception_v4.create_model("inception_v4", num_classes=10, **TINY)
    assert model.state_dict().keys() == ours.state_dict().keys()
    ours.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 96, 96)
    model.eval()
    ours.eval()
    with torch.no_grad():
        assert torch.equal(model(x), ours(x))
    assert model.default_cfg is model.pretrained_cfg
    assert model.pretrained_cfg["num_classes"] == 10
    assert model.pretrained_cfg["architecture"] == "iv4_inception_v4"


@pytest.mark.parametrize("name, size, crop", [
    ("inception_v4", 299, 0.875), ("inception_resnet_v2", 299, 0.875),
    ("inception_resnet_v1_facenet", 160, 1.0),
])
def test_resolve_data_config_reads_our_preprocessing(name, size, crop):
    model = timm.create_model(f"iv4_{name}", **TINY)
    cfg = resolve_data_config({}, model=model)
    assert cfg["input_size"] == (3, size, size)
    assert cfg["crop_pct"] == crop and cfg["interpolation"] == "bilinear"
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["std"] == (0.5, 0.5, 0.5)  # not ImageNet's
    # The registry's pretrained cfg (what timm shows before creating) agrees.
    registered = timm.models.get_pretrained_cfg(f"iv4_{name}")
    assert registered.input_size == (3, size, size) and registered.crop_pct == crop
    assert registered.first_conv == "stem.conv1a.conv" and registered.classifier == "head.fc"
    named = dict(model.named_modules())
    assert "stem.conv1a.conv" in named and "head.fc" in named


def test_facenet_keeps_per_image_normalisation_for_our_transform():
    from inception_v4.data import create_transform

    model = timm.create_model("iv4_inception_resnet_v1_facenet", **TINY)
    assert model.pretrained_cfg["normalize"] == "per_image"
    assert "PerImageStandardize" in repr(create_transform(model))


def test_features_only_through_timm():
    model = timm.create_model("iv4_inception_resnet_v2", features_only=True, out_indices=[1, 3],
                              **TINY).eval()
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 96, 96))
    assert [m.shape[1] for m in maps] == model.feature_info.channels()
    assert model.feature_info.reduction() == [4, 16]


def test_pretrained_cfg_overlay_file_loads_our_weights(tmp_path):
    saved = inception_v4.create_model("inception_resnet_v1", num_classes=5, **TINY).eval()
    inception_v4.save_pretrained(saved, tmp_path / "w")
    model = timm.create_model("iv4_inception_resnet_v1", pretrained=True, num_classes=5,
                              pretrained_cfg_overlay={"file": str(tmp_path / "w")},
                              **TINY).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(model(x), saved(x))


def test_clear_errors():
    with pytest.raises(ValueError, match="no public ImageNet weights"):
        timm.create_model("iv4_inception_resnet_v1", pretrained=True)
    with pytest.raises(TypeError, match="does not take drop_path_rate"):
        timm.create_model("iv4_inception_v4", drop_path_rate=0.1)
