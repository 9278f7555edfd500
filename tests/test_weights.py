"""Weights: our format round trips, timm/Cadene import (numerical equivalence with timm),
mismatch errors, pickle safety, the offline hub error and ``inception-v4 convert``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from evil_pickle import RunsCommand
from safetensors.torch import save_file

from inception_v4 import create_model, list_models
from inception_v4.cli import main
from inception_v4.weights import (
    HubUnavailableError,
    load_model,
    load_pretrained,
    read_config,
    save_pretrained,
)

SMALL = {"width": 0.25, "depth": 0.2}


def _randomise_bn(model: torch.nn.Module, size: int = 128) -> None:
    """Random BN scales and shifts; running statistics from one batch of noise, then
    perturbed. Activations stay alive through every block (the output depends on the
    input) and a swapped mapping of any BN tensor changes the output."""
    g = torch.Generator().manual_seed(1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            if m.weight is not None:
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch sets the statistics
        model.train()(torch.randn(2, model.in_chans if hasattr(model, "in_chans") else 3,
                                  size, size, generator=g))
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn(m.num_features, generator=g)
                                * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
    model.eval()


def _timm_files(name: str, tmp: Path, num_classes: int = 1000) -> tuple[torch.nn.Module, Path]:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    tm = timm.create_model(name, pretrained=False, num_classes=num_classes).eval()
    _randomise_bn(tm)
    path = tmp / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in tm.state_dict().items()}, str(path))
    return tm, path


def _outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def timm_v4(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    return _timm_files("inception_v4", tmp_path_factory.mktemp("timm_v4"))


@pytest.fixture(scope="module")
def image299() -> torch.Tensor:
    return torch.randn(2, 3, 299, 299, generator=torch.Generator().manual_seed(2))


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sb = b.state_dict()
    for k, v in a.state_dict().items():
        assert torch.equal(v, sb[k]), k


def test_timm_inception_v4_matches_timm_from_safetensors_and_pth(
        timm_v4: tuple[torch.nn.Module, Path], image299: torch.Tensor, tmp_path: Path) -> None:
    tm, st_path = timm_v4
    expected = _outputs(tm, image299)
    assert (expected[0] - expected[1]).abs().max() > 0.1  # the output depends on the input
    ours = create_model("inception_v4", pretrained=st_path)
    _close(_outputs(ours, image299), expected)
    # a .pth, keys in reverse order, wrapped like a training checkpoint: the same tensors
    pth = tmp_path / "v4.pth"
    torch.save({"state_dict": dict(reversed(list(tm.state_dict().items())))}, pth)
    _same_state(ours, load_pretrained(create_model("inception_v4"), pth))
    # the check can fail: two same-shaped convs (and BNs) swapped in the source show
    sd = tm.state_dict()
    for leaf in ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"):
        a, b = f"features.6.branch1.1.{leaf}", f"features.6.branch2.1.{leaf}"
        sd[a], sd[b] = sd[b], sd[a]
    swapped = tmp_path / "swapped.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(swapped))
    bad = create_model("inception_v4", pretrained=swapped)
    small = image299[:, :, :107, :107]
    assert (_outputs(bad, small) - _outputs(ours, small)).abs().max() > 1e-2


def test_timm_inception_resnet_v2_matches_timm_incl_1001_cadene(
        image299: torch.Tensor, tmp_path: Path) -> None:
    tm, st_path = _timm_files("inception_resnet_v2", tmp_path)
    with torch.no_grad():
        feats_timm = tm.forward_features(image299)
        expected = tm.forward_head(feats_timm)
    assert (expected[0] - expected[1]).abs().max() > 0.1
    ours = create_model("inception_resnet_v2", pretrained=st_path).eval()
    with torch.no_grad():
        feats = ours.forward_features(image299)
    _close(feats, feats_timm)
    _close(_outputs(ours.head, feats), expected)
    pth = tmp_path / "irv2.pth"
    torch.save(tm.state_dict(), pth)
    _same_state(ours, create_model("inception_resnet_v2", pretrained=pth))
    # Cadene naming (last_linear) with TF-slim's 1001 classes, wrapped as {"model": ...}
    tm.reset_classifier(1001)
    with torch.no_grad():
        tm.classif.weight.normal_(0, 0.1)
        tm.classif.bias.normal_(0, 0.1)
        logits = tm.forward_head(feats_timm)
    cadene = {k.replace("classif.", "last_linear."): v for k, v in tm.state_dict().items()}
    torch.save({"model": cadene}, tmp_path / "cadene.bin")
    cadene_path = tmp_path / "cadene.bin"
    m1001 = create_model("inception_resnet_v2", num_classes=1001, pretrained=cadene_path)
    _close(_outputs(m1001.head, feats), logits)
    m1000 = create_model("inception_resnet_v2", pretrained=cadene_path)
    _close(_outputs(m1000.head, feats), logits[:, 1:])  # background class 0 dropped
    assert torch.equal(m1000.stages[-1].state_dict()["0.conv.weight"],
                       ours.stages[-1].state_dict()["0.conv.weight"])


# (network, create_model arguments, layout) → (our key, the source's key) spot checks,
# including the running block numbers of timm's flattened lists.
_KEY_SPOTS = [
    ("inception_v4", {}, ("timm", "inception_v4"), [
        ("stem.mixed3a.branches.1.conv.weight", "features.3.conv.conv.weight"),
        ("stages.0.3.branches.3.1.bn.running_var", "features.9.branch3.1.bn.running_var"),
        ("stages.1.0.branches.1.2.conv.weight", "features.10.branch1.2.conv.weight"),
        ("stages.2.6.branches.2.4.conv.weight", "features.17.branch2.4.conv.weight"),
        ("stages.3.0.branches.1.3.conv.weight", "features.18.branch1.3.conv.weight"),
        ("stages.4.2.branches.2.3.branches.1.bn.bias", "features.21.branch2_3b.bn.bias"),
        ("head.fc.bias", "last_linear.bias")]),
    ("inception_v4", {"depth": 0.2}, ("timm", "inception_v4"), [
        ("stages.4.0.branches.0.conv.weight", "features.10.branch0.conv.weight")]),
    ("inception_resnet_v2", {}, ("timm", "inception_resnet_v2"), [
        ("stages.0.0.branches.1.1.conv.weight", "mixed_5b.branch1.1.conv.weight"),
        ("stages.1.9.project.bias", "repeat.9.conv2d.bias"),
        ("stages.3.19.branches.1.2.conv.weight", "repeat_1.19.branch1.2.conv.weight"),
        ("stages.4.0.branches.2.2.bn.weight", "mixed_7a.branch2.2.bn.weight"),
        ("stages.5.8.project.weight", "repeat_2.8.conv2d.weight"),
        ("stages.6.0.project.weight", "block8.conv2d.weight"),
        ("stages.7.0.conv.weight", "conv2d_7b.conv.weight"),
        ("head.fc.weight", "classif.weight")]),
    ("inception_resnet_v1_facenet", {}, "keras-facenet", [
        ("stages.4.4.branches.1.1.bn.running_mean",
         "Block8_5_Branch_1_Conv2d_0b_1x3_BatchNorm/moving_mean"),
        ("stages.5.0.project.weight", "Block8_6_Conv2d_1x1/kernel"),
        ("stages.3.0.branches.2.2.conv.weight", "Mixed_7a_Branch_2_Conv2d_1a_3x3/kernel"),
        ("head.bn.running_var", "Bottleneck_BatchNorm/moving_variance"),
        ("stem.conv1a.bn.num_batches_tracked", None)]),
    ("inception_resnet_v1_facenet", {}, "facenet-pytorch", [
        ("stages.4.4.project.bias", "repeat_3.4.conv2d.bias")]),
]


@pytest.mark.parametrize(("name", "kwargs", "layout", "spots"), _KEY_SPOTS)
def test_key_names_follow_the_reference_table(name: str, kwargs: dict, layout: object,
                                              spots: list) -> None:
    """Spot checks against docs/checkpoints.md's name tables."""
    from inception_v4.weights.layouts import FACENET_PYTORCH, KERAS_FACENET, LAYOUTS
    from inception_v4.weights.mapping import key_map

    table = {"keras-facenet": KERAS_FACENET, "facenet-pytorch": FACENET_PYTORCH}
    keys = key_map(create_model(name, **kwargs), table.get(layout) or LAYOUTS[layout])
    assert [(ours, keys[ours]) for ours, _ in spots] == spots


def test_keras_positions_follow_keras_layer_order() -> None:
    """Golden values from Keras 3.15's ``InceptionResNetV2().layers``: its Conv2D layers run
    conv2d … conv2d_4 (stem), then conv2d_8, _6, _9, _5, _7, _10, _11 (mixed_5b), …,
    block17_20_conv, conv2d_160, _156, _158, _161, _157, _159, _162 (mixed_7a), conv2d_164,
    _165, _163, _166, block8_1_conv (the Keras numbers count in construction order)."""
    from inception_v4.weights.keras_apps import keras_key_map, keras_order

    model = create_model("inception_resnet_v2")
    order = keras_order(model)
    assert len(order) == 244 and order[:5] == [f"stem.{c}" for c in
                                               ("conv1a", "conv2a", "conv2b", "conv3b", "conv4a")]
    b = "stages.0.0.branches."
    assert order[5:12] == [b + p for p in ("2.0", "1.0", "2.1", "0", "1.1", "2.2", "3.1")]
    m7a = "stages.4.0.branches."
    assert order[order.index("stages.3.19.project") + 1:][:12] == [
        *(m7a + p for p in ("2.0", "0.0", "1.0", "2.1", "0.1", "1.1", "2.2")),
        *(f"stages.5.0.{p}" for p in ("branches.1.0", "branches.1.1", "branches.0",
                                      "branches.1.2", "project"))]
    assert order[-1] == "stages.7.0"
    k = keras_key_map(model)
    assert k["stages.0.0.branches.3.1.bn.running_var"] == \
        "BatchNormalization[11]/moving_variance"
    assert k["stages.1.0.project.bias"] == "Conv2D[18]/bias"
    assert k["stages.7.0.bn.bias"] == "BatchNormalization[203]/beta"
    assert k["stages.7.0.conv.weight"] == "Conv2D[243]/kernel"
    assert k["head.fc.weight"] == "Dense[0]/kernel" and k["stem.conv1a.bn.weight"] == \
        "BatchNormalization[0]/gamma"


@pytest.mark.parametrize("name", list_models())
def test_round_trip_gives_identical_outputs_and_config(name: str, tmp_path: Path) -> None:
    model = create_model(name, num_classes=7, drop_rate=0.1, **SMALL)
    _randomise_bn(model, 80)
    out = save_pretrained(model, tmp_path / "m")
    cfg = read_config(out)
    assert cfg["model"] == name and cfg["num_classes"] == 7
    assert cfg["init_args"] == model.init_args
    assert cfg["init_args"]["width"] == 0.25 and cfg["init_args"]["depth"] == 0.2
    assert cfg["pretrained_cfg"]["input_size"] == list(model.pretrained_cfg["input_size"])
    assert "library_version" in cfg
    x = torch.randn(2, 3, 80, 80)
    expected = _outputs(model, x)
    again = create_model(name, num_classes=7, drop_rate=0.1, pretrained=out, **SMALL)
    assert torch.equal(_outputs(again, x), expected)
    rebuilt = load_model(out / "config.json")
    assert not rebuilt.training and rebuilt.init_args == model.init_args
    assert rebuilt.pretrained_cfg == model.pretrained_cfg
    _same_state(rebuilt, model)
    _same_state(load_pretrained(create_model(name, num_classes=7, **SMALL),
                                out / "model.safetensors"), model)


def test_saved_tensors_are_the_state_dict(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model = create_model("inception_resnet_v2", aux_logits=True, **SMALL)
    save_pretrained(model, tmp_path)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert set(saved) == set(model.state_dict())
    assert any(k.startswith("aux_head.") for k in saved)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["init_args"]["aux_logits"] is True


def test_aux_head_is_optional_with_a_warning(tmp_path: Path) -> None:
    plain = create_model("inception_v4", **SMALL)
    save_pretrained(plain, tmp_path / "plain")
    with pytest.warns(UserWarning, match="aux head keeps its random initialisation"):
        with_aux = create_model("inception_v4", aux_logits=True, pretrained=tmp_path / "plain",
                                **SMALL)
    assert torch.equal(with_aux.stem.conv1a.conv.weight, plain.stem.conv1a.conv.weight)
    save_pretrained(with_aux, tmp_path / "aux")
    with pytest.warns(UserWarning, match="no auxiliary head"):
        back = create_model("inception_v4", pretrained=tmp_path / "aux", **SMALL)
    _same_state(back, plain)


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused_without_running_it(how: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"stem.conv1a.conv.weight": torch.zeros(1), "x": RunsCommand(marker)}
    if how == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    with pytest.raises(ValueError, match="refused to load .*evil.pth"):
        create_model("inception_v4", pretrained=path, **SMALL)
    assert not marker.exists()


def test_loading_v4_weights_into_resnet_v2_names_the_keys(
        timm_v4: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    _, path = timm_v4
    with pytest.raises(ValueError) as err:
        create_model("inception_resnet_v2", pretrained=path)
    msg = str(err.value)
    assert "missing key(s)" in msg and "conv2d_1a.conv.weight" in msg  # the name looked for
    assert "unexpected key(s)" in msg and "features." in msg
    assert "look like inception_v4" in msg
    # our own format says which network it holds: the conflict is named as such
    save_pretrained(create_model("inception_v4", **SMALL), tmp_path / "v4")
    with pytest.raises(ValueError, match=r"model 'inception_resnet_v2' asked for, but .* holds "
                                         r"inception_v4 weights"):
        create_model("inception_resnet_v2", pretrained=tmp_path / "v4", **SMALL)


def test_wrong_num_classes_names_the_head(timm_v4: tuple[torch.nn.Module, Path]) -> None:
    _, path = timm_v4
    with pytest.raises(ValueError) as err:
        create_model("inception_v4", num_classes=10, pretrained=path)
    msg = str(err.value)
    assert "2 wrongly shaped" in msg and "head.fc.weight: model (10, 1536)" in msg
    assert "(1000, 1536)" in msg and "reset_classifier" in msg
    assert "missing" not in msg and "unexpected" not in msg


def test_unrecognised_and_missing_files_fail_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "weights.safetensors"
    junk.write_bytes(b"not a weights file at all")
    with pytest.raises(ValueError, match="unrecognised weights file"):
        create_model("inception_v4", pretrained=junk, **SMALL)
    torch.save({"foo.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="unrecognised state dict"):
        create_model("inception_v4", pretrained=tmp_path / "other.pth", **SMALL)
    with pytest.raises(FileNotFoundError, match="no such file"):
        create_model("inception_v4", pretrained=tmp_path / "absent.pth", **SMALL)


@pytest.mark.parametrize("source", ["timm:inception_v4", "hf-hub:someone/inception_v4"])
def test_hub_sources_offline_give_a_clear_error(source: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    try:  # settings are read at import; patch them too if the hub is already imported
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    except ImportError:
        pass
    with pytest.raises(HubUnavailableError, match="hub is unreachable") as err:
        create_model("inception_v4", pretrained=source, **SMALL)
    assert "pass its local path" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_convert_command_writes_our_format(timm_v4: tuple[torch.nn.Module, Path],
                                           tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, src = timm_v4
    dst = tmp_path / "converted"
    assert main(["convert", str(src), str(dst)]) == 0  # model and classes read off the keys
    assert "wrote" in capsys.readouterr().out
    cfg = read_config(dst)
    assert cfg["model"] == "inception_v4" and cfg["converted_from"] == str(src)
    direct = create_model("inception_v4", pretrained=src).state_dict()
    converted = load_model(dst).state_dict()
    assert all(torch.equal(direct[k], converted[k]) for k in direct)
    assert main(["convert", str(src), str(tmp_path / "x"), "--model", "inception_resnet_v2"]) == 2
    err = capsys.readouterr().err
    assert "inception-v4 convert: error:" in err and "missing key(s)" in err
    assert main(["convert", str(tmp_path / "absent.pth"), str(tmp_path / "y")]) == 2


def test_save_pretrained_writes_a_hub_style_model_card(tmp_path) -> None:  # noqa: ANN001
    import inception_v4

    model = inception_v4.create_model("inception_resnet_v1_facenet", width=0.25, depth=0.2)
    inception_v4.save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "README.md", "config.json", "model.safetensors"]
    card = (tmp_path / "m" / "README.md").read_text()
    params = sum(p.numel() for p in model.parameters())
    assert f"{params:,} parameters" in card and "160×160" in card
    assert "per-image standardisation" in card and "## Licence" in card
    assert "arXiv 1602.07261" in card
