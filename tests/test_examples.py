"""The scripts in examples/: --help, and a run of each with tiny settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from PIL import Image

import inception_v4
from inception_v4.weights import load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("finetune_folder", "features_for_detection", "facenet_embeddings")


def _load(name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _load(name).main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def _image_folder(root: Path, per_class: int = 6) -> Path:
    """train/ and val/ with two classes of flat colour images (red-ish and blue-ish)."""
    gen = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for cls, colour in (("blue", (30, 40, 200)), ("red", (200, 40, 30))):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                noise = torch.randint(-20, 20, (3,), generator=gen).tolist()
                pixel = tuple(c + n for c, n in zip(colour, noise, strict=True))
                Image.new("RGB", (90, 80), pixel).save(root / split / cls / f"{i}.png")
    return root


def test_finetune_from_saved_weights_head_only(tmp_path, capsys):
    source = inception_v4.create_model("inception_resnet_v1", num_classes=5, width=0.25,
                                       depth=0.2)
    inception_v4.save_pretrained(source, tmp_path / "w")
    data = _image_folder(tmp_path / "data", per_class=4)
    rc = _load("finetune_folder").main([
        str(data), "--weights", str(tmp_path / "w"), "--freeze", "features", "--image-size",
        "75", "--max-steps", "2", "--batch-size", "4", "--workers", "0",
        "--out", str(tmp_path / "out")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "after 2 steps" in out and "classes blue, red" in out
    tuned = load_model(tmp_path / "out" / "model")
    assert tuned.num_classes == 2
    assert tuned.pretrained_cfg["label_names"] == ("blue", "red")
    assert tuned.pretrained_cfg["input_size"] == (3, 75, 75)
    before, after = source.state_dict(), tuned.state_dict()
    frozen = [k for k in before if not k.startswith("head.")]
    assert all(torch.equal(before[k], after[k]) for k in frozen)  # incl. BN statistics
    assert after["head.fc.weight"].shape == (2, source.num_features)


def test_features_for_detection(capsys):
    module = _load("features_for_detection")
    backbone = inception_v4.create_model("inception_resnet_v2", width=0.25, depth=0.2,
                                         features_only=True, out_indices=(1, 2, 3, 4)).eval()
    x = torch.randn(1, 3, 299, 299)
    maps, rows = module.feature_table(backbone, x)
    assert [m.shape[1] for m in maps] == backbone.feature_info.channels()
    assert [r["reduction"] for r in rows] == [4, 8, 16, 32]
    for r in rows:  # VALID stride-2 layers: at least the declared reduction, under 1.5×
        assert r["reduction"] <= min(r["stride"]) and max(r["stride"]) < 1.5 * r["reduction"]
    rc = module.main(["--model", "inception_resnet_v2", "--width", "0.25", "--depth", "0.2",
                      "--input-size", "160", "224", "--fpn-channels", "32"])
    out = capsys.readouterr().out
    assert rc == 0
    with torch.no_grad():
        h, w = backbone(torch.randn(1, 3, 160, 224))[-1].shape[-2:]
    assert f"stages.7     (1, 32, {h}, {w})" in out  # the FPN's coarsest level


def test_facenet_embeddings_needs_weights_and_says_where_to_get_them(tmp_path, capsys):
    module = _load("facenet_embeddings")
    with pytest.raises(SystemExit) as exit_info:
        module.main([str(tmp_path)])
    assert exit_info.value.code == 2 and "--weights" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="nyoki-mtl/keras-facenet"):
        module.main([str(tmp_path), "--weights", str(tmp_path / "missing.h5")])


def test_facenet_embeddings(shared_dir, tmp_path, capsys):
    weights = shared_dir / "weights" / "facenet_keras.h5"
    if not weights.is_file():
        pytest.skip(f"{weights} not found")
    gen = torch.Generator().manual_seed(0)
    for name in ("a", "b"):
        pixels = torch.randint(0, 256, (160, 160, 3), generator=gen, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(tmp_path / f"{name}.png")
    (tmp_path / "a_copy.png").write_bytes((tmp_path / "a.png").read_bytes())
    module = _load("facenet_embeddings")
    rc = module.main([str(tmp_path), "--weights", str(weights)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "3 embeddings of 128 values, L2 norms 1.0000..1.0000" in out
    assert "closest pair: a.png and a_copy.png (distance 0.000)" in out
    rows = [ln.split()[1:] for ln in out.splitlines() if ln.startswith(("a", "b"))]
    matrix = torch.tensor([[float(v) for v in row] for row in rows])
    assert torch.allclose(matrix, matrix.T) and torch.all(matrix.diagonal() == 0)
    assert 0 < matrix[0, 2] <= 2  # a and b differ; unit vectors are at most 2 apart
