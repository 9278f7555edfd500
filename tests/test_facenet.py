"""FaceNet's Keras HDF5 weights in ``inception_resnet_v1_facenet``, checked against an
independent NumPy recomputation (channels-last, Keras kernels as stored) and, when it is
installed, facenet-pytorch's ``InceptionResnetV1``; ``prewhiten``; facenet-pytorch import."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

import inception_v4
from inception_v4 import create_model
from inception_v4.data import create_transform, decode_image, prewhiten
from inception_v4.weights import load_model

EPS = 1e-3  # Keras BatchNormalization default, as stored in FaceNet's graph


@pytest.fixture(scope="module")
def keras(h5_path: Path) -> dict[str, np.ndarray]:
    """Every stored tensor as ``"<layer>/<weight>"``, exactly as Keras stores it."""
    out = {}
    with h5py.File(h5_path, "r") as f:
        mw = f["model_weights"]
        for layer in mw.attrs["layer_names"]:
            layer = layer.decode()
            for w in mw[layer].attrs["weight_names"]:
                w = w.decode()
                out[f"{layer}/{w.split('/')[-1][:-2]}"] = np.array(mw[layer][w])
    return out


@pytest.fixture(scope="module")
def facenet(h5_path: Path) -> torch.nn.Module:
    return create_model("inception_resnet_v1_facenet", pretrained=h5_path).eval()


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    """Two 160×160 images of raw 0-255 values (smooth random fields)."""
    g = torch.Generator().manual_seed(3)
    base = F.interpolate(torch.rand(2, 3, 10, 10, generator=g), size=160, mode="bicubic")
    return base.clamp(0, 1) * 255


def test_every_stored_tensor_is_loaded(facenet: torch.nn.Module,
                                       keras: dict[str, np.ndarray]) -> None:
    assert len(keras) == 490  # README: 133 kernels, 21 biases, 112 × 3 BN tensors
    ours = {k: v for k, v in facenet.state_dict().items() if "num_batches_tracked" not in k}
    assert len(ours) == 490
    sd = facenet.state_dict()
    k = keras["Conv2d_1a_3x3/kernel"]
    assert np.array_equal(sd["stem.conv1a.conv.weight"].numpy(), k.transpose(3, 2, 0, 1))
    assert np.array_equal(sd["head.fc.weight"].numpy(), keras["Bottleneck/kernel"].T)
    assert np.array_equal(sd["stages.5.0.project.bias"].numpy(), keras["Block8_6_Conv2d_1x1/bias"])
    assert np.array_equal(sd["stages.2.9.branches.1.2.bn.running_var"].numpy(),
                          keras["Block17_10_Branch_1_Conv2d_0c_7x1_BatchNorm/moving_variance"])
    assert np.array_equal(sd["head.bn.bias"].numpy(), keras["Bottleneck_BatchNorm/beta"])
    assert sum(v.numel() for v in ours.values()) == 22_808_144  # README's stored values


def test_embeddings_are_finite_and_128d(facenet: torch.nn.Module, faces: torch.Tensor,
                                        h5_path: Path) -> None:
    with torch.no_grad():
        e = facenet(prewhiten(faces))
    assert e.shape == (2, 128) and torch.isfinite(e).all()
    assert facenet.pretrained_cfg["normalize"] == "per_image"
    rebuilt = load_model(h5_path)  # name and width read off the file
    assert rebuilt.spec.name == "inception_resnet_v1_facenet" and rebuilt.num_classes == 128
    assert not rebuilt.training


# ---- independent NumPy recomputation (NHWC, HWIO kernels straight from the file) ----------
def _conv(x: np.ndarray, k: np.ndarray, stride: int = 1, same: bool = False) -> np.ndarray:
    kh, kw = k.shape[:2]
    if same:
        x = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    win = sliding_window_view(x, (kh, kw), axis=(0, 1))[::stride, ::stride]  # H W C kh kw
    return np.einsum("hwcij,ijco->hwo", win, k, optimize=True)


def _unit(keras: dict, name: str, x: np.ndarray, stride: int = 1, same: bool = False):
    y = _conv(x, keras[f"{name}/kernel"].astype(np.float64), stride, same)
    bn = f"{name}_BatchNorm/"
    y = (y - keras[bn + "moving_mean"]) / np.sqrt(keras[bn + "moving_variance"] + EPS)
    return np.maximum(y + keras[bn + "beta"], 0)


def _numpy_stem_and_block35_1(keras: dict, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = _unit(keras, "Conv2d_1a_3x3", img, 2)
    x = _unit(keras, "Conv2d_2a_3x3", x)
    x = _unit(keras, "Conv2d_2b_3x3", x, same=True)
    x = sliding_window_view(x, (3, 3), axis=(0, 1))[::2, ::2].max(axis=(-2, -1))
    x = _unit(keras, "Conv2d_3b_1x1", x)
    x = _unit(keras, "Conv2d_4a_3x3", x)
    stem = _unit(keras, "Conv2d_4b_3x3", x, 2)
    p = "Block35_1_"
    b0 = _unit(keras, p + "Branch_0_Conv2d_1x1", stem)
    b1 = _unit(keras, p + "Branch_1_Conv2d_0b_3x3",
               _unit(keras, p + "Branch_1_Conv2d_0a_1x1", stem), same=True)
    b2 = _unit(keras, p + "Branch_2_Conv2d_0a_1x1", stem)
    b2 = _unit(keras, p + "Branch_2_Conv2d_0b_3x3", b2, same=True)
    b2 = _unit(keras, p + "Branch_2_Conv2d_0c_3x3", b2, same=True)
    up = _conv(np.concatenate([b0, b1, b2], -1), keras[p + "Conv2d_1x1/kernel"])
    block = np.maximum(stem + 0.17 * (up + keras[p + "Conv2d_1x1/bias"]), 0)
    return stem, block


def test_stem_and_first_block_match_numpy(facenet: torch.nn.Module, keras: dict,
                                          faces: torch.Tensor) -> None:
    x = prewhiten(faces[:1])
    with torch.no_grad():
        stem = facenet.stem(x)
        block = facenet.stages[0][0](stem.clone())
    img = x[0].permute(1, 2, 0).double().numpy()
    ref_stem, ref_block = _numpy_stem_and_block35_1(keras, img)
    ours_stem = stem[0].permute(1, 2, 0).double().numpy()
    ours_block = block[0].permute(1, 2, 0).double().numpy()
    assert ours_stem.shape == ref_stem.shape == (17, 17, 256)
    np.testing.assert_allclose(ours_stem, ref_stem, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours_block, ref_block, rtol=1e-4, atol=1e-4)
    assert np.abs(ref_block - ref_stem).max() > 1e-2  # the block does change its input


def test_perturbed_images_embed_close_different_images_far(facenet: torch.nn.Module,
                                                           shared_dir: Path) -> None:
    from PIL import Image

    tar_path = shared_dir / "datasets" / "imagenette-96" / "val.tar"
    if not tar_path.is_file():
        pytest.skip(f"{tar_path} not found")
    with tarfile.open(tar_path) as tar:
        names = [m for m in tar.getmembers() if m.isfile()][::400][:6]
        imgs = [Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")
                .resize((160, 160), Image.BILINEAR) for m in names]
    x = torch.stack([torch.from_numpy(np.array(i)).permute(2, 0, 1).float() for i in imgs])
    g = torch.Generator().manual_seed(4)
    noisy = (x + torch.empty_like(x).uniform_(-2, 2, generator=g)).clamp(0, 255)
    with torch.no_grad():
        e = F.normalize(facenet(prewhiten(torch.cat([x, noisy]))), dim=1)
    n = len(imgs)
    d = torch.cdist(e, e)
    same = torch.diagonal(d[:n, n:])
    different = d[:n, :n][~torch.eye(n, dtype=torch.bool)]
    assert same.max() < 0.25 * different.min(), (same, different.min())


@pytest.mark.isa
def test_bf16_embeddings_of_real_images_keep_cosine_0_999(facenet: torch.nn.Module,
                                                          shared_dir: Path) -> None:
    """The real FaceNet weights in the bf16 graph: each embedding of a real photo points
    where the float32 one does (cosine >= 0.999)."""
    tar_path = shared_dir / "datasets" / "imagenette-96" / "val.tar"
    if not tar_path.is_file():
        pytest.skip(f"{tar_path} not found")
    with tarfile.open(tar_path) as tar:
        members = [m for m in tar.getmembers() if m.isfile()][::500][:6]
        x = torch.stack([create_transform(facenet)(decode_image(tar.extractfile(m).read(),
                                                                m.name)) for m in members])
    bf16 = inception_v4.optimize_for_inference(facenet, dtype=torch.bfloat16)
    with torch.inference_mode():
        cos = F.cosine_similarity(bf16(x), facenet(x), dim=1)
    assert cos.min() >= 0.999, cos


# ---- facenet-pytorch, with the same weights mapped by this test's own table ---------------
_STEM = {"Conv2d_1a_3x3": "conv2d_1a", "Conv2d_2a_3x3": "conv2d_2a", "Conv2d_2b_3x3": "conv2d_2b",
         "Conv2d_3b_1x1": "conv2d_3b", "Conv2d_4a_3x3": "conv2d_4a", "Conv2d_4b_3x3": "conv2d_4b"}
_REPEAT = {"Block35": "repeat_1", "Block17": "repeat_2", "Block8": "repeat_3"}
_A = {"Branch_0_Conv2d_1x1": "branch0", "Branch_1_Conv2d_0a_1x1": "branch1.0",
      "Branch_1_Conv2d_0b_3x3": "branch1.1", "Branch_2_Conv2d_0a_1x1": "branch2.0",
      "Branch_2_Conv2d_0b_3x3": "branch2.1", "Branch_2_Conv2d_0c_3x3": "branch2.2"}
_INNER = {
    "Block35": _A,
    "Block17": {"Branch_0_Conv2d_1x1": "branch0", "Branch_1_Conv2d_0a_1x1": "branch1.0",
                "Branch_1_Conv2d_0b_1x7": "branch1.1", "Branch_1_Conv2d_0c_7x1": "branch1.2"},
    "Block8": {"Branch_0_Conv2d_1x1": "branch0", "Branch_1_Conv2d_0a_1x1": "branch1.0",
               "Branch_1_Conv2d_0b_1x3": "branch1.1", "Branch_1_Conv2d_0c_3x1": "branch1.2"},
    "Mixed_6a": {"Branch_0_Conv2d_1a_3x3": "branch0", "Branch_1_Conv2d_0a_1x1": "branch1.0",
                 "Branch_1_Conv2d_0b_3x3": "branch1.1", "Branch_1_Conv2d_1a_3x3": "branch1.2"},
    "Mixed_7a": {"Branch_0_Conv2d_0a_1x1": "branch0.0", "Branch_0_Conv2d_1a_3x3": "branch0.1",
                 "Branch_1_Conv2d_0a_1x1": "branch1.0", "Branch_1_Conv2d_1a_3x3": "branch1.1",
                 "Branch_2_Conv2d_0a_1x1": "branch2.0", "Branch_2_Conv2d_0b_3x3": "branch2.1",
                 "Branch_2_Conv2d_1a_3x3": "branch2.2"},
}


def _fnpt_module(layer: str) -> str:
    if layer in _STEM:
        return _STEM[layer]
    m = re.fullmatch(r"(Block35|Block17|Block8)_(\d+)_(.+)", layer)
    if m:
        kind, i, inner = m.groups()
        block = "block8" if (kind, i) == ("Block8", "6") else f"{_REPEAT[kind]}.{int(i) - 1}"
        return f"{block}.conv2d" if inner == "Conv2d_1x1" else f"{block}.{_INNER[kind][inner]}"
    return f"{layer[:8].lower()}.{_INNER[layer[:8]][layer[9:]]}"


def _fnpt_state(keras: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    out = {}
    for key, arr in keras.items():
        layer, w = key.split("/")
        t = torch.from_numpy(arr.copy())
        if layer == "Bottleneck":
            out["last_linear.weight"] = t.T.contiguous()
        elif layer.endswith("_BatchNorm"):
            base = layer[: -len("_BatchNorm")]
            mod = "last_bn" if base == "Bottleneck" else _fnpt_module(base) + ".bn"
            names = {"beta": "bias", "moving_mean": "running_mean",
                     "moving_variance": "running_var"}
            out[f"{mod}.{names[w]}"] = t
            out[f"{mod}.weight"] = torch.ones_like(t)
        elif w == "bias":
            out[_fnpt_module(layer) + ".bias"] = t
        else:
            mod = _fnpt_module(layer)
            leaf = "weight" if mod.endswith("conv2d") else "conv.weight"
            out[f"{mod}.{leaf}"] = t.permute(3, 2, 0, 1).contiguous()
    return out


def _facenet_pytorch_model(embedding: int) -> torch.nn.Module:
    fp = pytest.importorskip("facenet_pytorch", reason="facenet-pytorch not installed (pip "
                             "install --no-deps facenet-pytorch requests)")
    model = fp.InceptionResnetV1()
    model.last_linear = torch.nn.Linear(1792, embedding, bias=False)
    model.last_bn = torch.nn.BatchNorm1d(embedding, eps=EPS)
    return model.eval()


def test_matches_facenet_pytorch_with_the_same_weights(facenet: torch.nn.Module, keras: dict,
                                                       faces: torch.Tensor) -> None:
    fnpt = _facenet_pytorch_model(128)
    state = _fnpt_state(keras)
    expected_keys = {k for k in fnpt.state_dict() if "num_batches_tracked" not in k}
    assert set(state) == expected_keys
    fnpt.load_state_dict(state, strict=False)
    captured = {}
    fnpt.last_bn.register_forward_hook(lambda m, i, o: captured.update(raw=o))
    x = prewhiten(faces)
    with torch.no_grad():
        theirs = fnpt(x)  # L2-normalised
        ours = facenet(x)
    torch.testing.assert_close(ours, captured["raw"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(F.normalize(ours, dim=1), theirs, rtol=1e-5, atol=1e-5)


def test_facenet_pytorch_state_dict_loads(tmp_path: Path) -> None:
    fnpt = _facenet_pytorch_model(512)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for m in fnpt.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):  # gamma stays 1
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    sd = dict(fnpt.state_dict(), **{"logits.weight": torch.zeros(3, 512),
                                    "logits.bias": torch.zeros(3)})
    torch.save(sd, tmp_path / "vggface2.pt")
    ours = create_model("inception_resnet_v1_facenet", num_classes=512,
                        pretrained=tmp_path / "vggface2.pt").eval()
    x = torch.randn(2, 3, 160, 160, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(F.normalize(ours(x), dim=1), fnpt(x), rtol=1e-5, atol=1e-5)
    sd["conv2d_1a.bn.weight"] = sd["conv2d_1a.bn.weight"] * 2
    torch.save(sd, tmp_path / "scaled.pt")
    with pytest.raises(ValueError, match="BatchNorm scales .* are not 1"):
        create_model("inception_resnet_v1_facenet", num_classes=512,
                     pretrained=tmp_path / "scaled.pt")


# ---- prewhiten ------------------------------------------------------------------------------
def test_prewhiten_is_facenets_per_image_standardisation() -> None:
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(3, 3, 20, 20), dtype=np.uint8)
    batch[2] = 77  # a flat image: std 0, the 1/sqrt(n) floor applies
    out = prewhiten(torch.from_numpy(batch))
    assert out.dtype == torch.float32 and out.shape == batch.shape
    for i, img in enumerate(batch.astype(np.float64)):
        ref = (img - img.mean()) / max(img.std(), 1.0 / np.sqrt(img.size))
        np.testing.assert_allclose(out[i].numpy(), ref, rtol=1e-6, atol=1e-6)
        assert torch.equal(prewhiten(torch.from_numpy(batch[i])), out[i])  # per image
    assert torch.count_nonzero(out[2]) == 0
    with pytest.raises(ValueError, match="expects"):
        prewhiten(torch.zeros(20, 20))
