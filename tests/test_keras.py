"""Keras applications' ``InceptionResNetV2`` weights in our ``inception_resnet_v2``, checked
against Keras itself (Keras 3 on its torch backend): the same logits, within 1e-4, from
Keras 3's ``.weights.h5`` through ``load_pretrained`` and from the legacy full-model ``.h5``
through ``inception-v4 convert``; the legacy weights-only ``.h5`` (Keras 2's ``save_weights``)
gives the very same tensors."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["KERAS_BACKEND"] = "torch"  # must precede the first import of keras
keras = pytest.importorskip(
    "keras", reason="keras not installed (a test-only dependency: pip install 'keras>=3')")
if keras.backend.backend() != "torch":
    pytest.skip(f"keras was already imported with the {keras.backend.backend()} backend; "
                f"these tests need KERAS_BACKEND=torch", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings(  # keras' torch backend, on numpy 2
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

from inception_v4 import create_model  # noqa: E402
from inception_v4.cli import main  # noqa: E402
from inception_v4.weights import load_model, load_pretrained, read_config  # noqa: E402


def _randomise(model: keras.Model) -> None:
    """BN statistics from one image of noise (momentum 0), then perturbed; random betas and
    biases. Activations stay alive through every block, and any mislabelled BN, conv or
    bias changes the output."""
    rng = np.random.default_rng(1)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    for la in bns:
        la.momentum = 0.0
    model(rng.uniform(-1, 1, (1, 299, 299, 3)).astype("float32"), training=True)
    for la in model.layers:
        if isinstance(la, keras.layers.BatchNormalization):
            la.momentum = 0.99
            mean, var = (keras.ops.convert_to_numpy(v) for v in (la.moving_mean,
                                                                  la.moving_variance))
            n = mean.shape[0]
            la.beta.assign(rng.normal(0, 0.2, n).astype("float32"))
            la.moving_mean.assign((mean + rng.normal(0, 0.1, n) * np.sqrt(var)).astype("float32"))
            la.moving_variance.assign((var * rng.uniform(0.75, 1.25, n)).astype("float32"))
        elif getattr(la, "bias", None) is not None:
            la.bias.assign(rng.normal(0, 0.1, la.bias.shape).astype("float32"))


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Keras' model saved three ways, its input (raw 0-255, channels-last) and its logits."""
    tmp = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionResNetV2(weights=None, classifier_activation=None)
    _randomise(model)
    files = {"weights.h5": tmp / "irv2.weights.h5", "model.h5": tmp / "irv2.h5"}
    model.save_weights(files["weights.h5"])
    model.save(files["model.h5"])  # legacy HDF5: model_weights/<layer>/<layer>/kernel
    try:  # Keras 2's save_weights(".h5") layout: <layer>/<layer>/kernel at the top level
        import h5py
        from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

        files["weights-only.h5"] = tmp / "irv2_weights_only.h5"
        with h5py.File(files["weights-only.h5"], "w") as f:
            save_weights_to_hdf5_group(f, model)
    except ImportError:
        pass
    # include_top=False's layers: everything up to the pooled features, no classifier
    body = keras.Model(model.input, model.get_layer("avg_pool").output)
    files["notop.weights.h5"] = tmp / "irv2_notop.weights.h5"
    body.save_weights(files["notop.weights.h5"])
    raw = np.random.default_rng(2).uniform(0, 255, (2, 299, 299, 3)).astype("float32")
    x = keras.applications.inception_resnet_v2.preprocess_input(raw.copy())
    logits = keras.ops.convert_to_numpy(model(x, training=False))
    features = keras.ops.convert_to_numpy(body(x, training=False))
    return {"files": files, "x": x, "raw": raw, "logits": torch.from_numpy(np.asarray(logits)),
            "features": torch.from_numpy(np.asarray(features))}


def _ours(model: torch.nn.Module, x: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())


def test_keras_preprocessing_is_our_pretrained_cfg(keras_files: dict) -> None:
    cfg = create_model("inception_resnet_v2").pretrained_cfg
    mean, std = np.array(cfg["mean"]), np.array(cfg["std"])
    np.testing.assert_allclose(keras_files["x"], (keras_files["raw"] / 255 - mean) / std,
                               atol=1e-5)


@pytest.fixture(scope="module")
def ours(keras_files: dict) -> torch.nn.Module:
    model = create_model("inception_resnet_v2")
    return load_pretrained(model, keras_files["files"]["weights.h5"]).eval()


def test_load_pretrained_matches_keras(keras_files: dict, ours: torch.nn.Module) -> None:
    expected = keras_files["logits"]
    assert (expected[0] - expected[1]).abs().max() > 0.1  # the output depends on the input
    torch.testing.assert_close(_ours(ours, keras_files["x"]), expected, rtol=0, atol=1e-4)
    # the check can fail: two same-shaped BNs of one block swapped change the output
    small = keras_files["x"][:, :107, :107]
    swapped = copy.deepcopy(ours)
    a, b = swapped.stages[1][0].branches[0].bn, swapped.stages[1][0].branches[1][0].bn
    with torch.no_grad():
        a.running_mean, b.running_mean = b.running_mean, a.running_mean
    assert (_ours(swapped, small) - _ours(ours, small)).abs().max() > 1e-3


def test_headless_keras_weights_load_into_the_body(keras_files: dict) -> None:
    path = keras_files["files"]["notop.weights.h5"]
    with pytest.warns(UserWarning, match="no classifier weights"):
        model = load_pretrained(create_model("inception_resnet_v2"), path).eval()
    x = torch.from_numpy(keras_files["x"]).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        features = model.forward_head(model.forward_features(x), pre_logits=True)
    torch.testing.assert_close(features, keras_files["features"], rtol=0, atol=1e-4)
    headless = load_model(path)  # no classifier in the file: a feature extractor
    assert headless.num_classes == 0
    torch.testing.assert_close(_ours(headless, keras_files["x"]), keras_files["features"],
                               rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", ["model.h5", "weights-only.h5"])
def test_legacy_hdf5_loads_the_same_tensors(keras_files: dict, ours: torch.nn.Module,
                                            kind: str) -> None:
    if kind not in keras_files["files"]:
        pytest.skip("this keras cannot write the legacy weights-only HDF5 layout")
    legacy = load_pretrained(create_model("inception_resnet_v2"), keras_files["files"][kind])
    expected = ours.state_dict()
    for k, v in legacy.state_dict().items():
        assert torch.equal(v, expected[k]), k


def test_convert_command_matches_keras(keras_files: dict, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    src = keras_files["files"]["model.h5"]  # legacy full-model HDF5, numerically end to end
    assert main(["convert", str(src), str(tmp_path / "irv2")]) == 0
    assert "keras-applications weights" in capsys.readouterr().out
    cfg = read_config(tmp_path / "irv2")
    assert cfg["model"] == "inception_resnet_v2" and cfg["num_classes"] == 1000
    torch.testing.assert_close(_ours(load_model(tmp_path / "irv2"), keras_files["x"]),
                               keras_files["logits"], rtol=0, atol=1e-4)


def test_keras_errors_name_the_problem(keras_files: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Create the model as 'inception_resnet_v2'"):
        load_pretrained(create_model("inception_v4"), keras_files["files"]["weights.h5"])
    inp = keras.Input((32, 32, 3))
    h = keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(inp))
    small = keras.Model(inp, keras.layers.Dense(4)(keras.layers.Flatten()(h)))
    small.save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(ValueError, match="only Keras applications' InceptionResNetV2"):
        load_pretrained(create_model("inception_resnet_v2"), tmp_path / "small.weights.h5")
