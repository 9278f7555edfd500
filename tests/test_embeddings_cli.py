"""An embedding network is not a classifier: ``predict`` gives FaceNet's 128-d vectors (also
as .npy / .csv) and ``compare`` the squared distance of two images against a threshold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inception_v4 import create_model, save_pretrained
from inception_v4.cli import main
from inception_v4.data import create_transform


def _faces(folder: Path) -> list[Path]:
    """Three 180×170 images (smooth random fields; the vectors, not the faces, are tested)."""
    folder.mkdir()
    g = torch.Generator().manual_seed(5)
    paths = []
    for i in range(3):
        field = F.interpolate(torch.rand(1, 3, 9, 9, generator=g), size=(170, 180),
                              mode="bicubic")[0].clamp(0, 1)
        pixels = (field * 255).round().byte().permute(1, 2, 0).numpy()
        paths.append(folder / f"face{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.mark.slow  # ~10 s idle (the full network, loaded three times); the fast twin is below
def test_facenet_predict_gives_128d_embeddings_and_compare_their_distance(
        h5_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The real FaceNet weights (converted once to our folder, which loads faster): predict
    on a folder writes one unit vector per image, equal to the model's normalised output
    with its own preprocessing; compare prints their squared distance."""
    paths = _faces(tmp_path / "faces")
    model = create_model("inception_resnet_v1_facenet", pretrained=h5_path).eval()
    weights = str(save_pretrained(model, tmp_path / "facenet"))
    npy = tmp_path / "e.npy"
    assert main(["predict", str(tmp_path / "faces"), "--weights", weights, "--embeddings",
                 str(npy), "--json", str(tmp_path / "p.json")]) == 0
    text = capsys.readouterr().out
    assert text.count("128-d embedding (unit length)") == 3 and "class" not in text
    vectors = np.load(npy)
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    transform = create_transform(model)
    with torch.no_grad():
        want = F.normalize(model(torch.stack([transform(Image.open(p).convert("RGB"))
                                              for p in paths])), dim=1)
    np.testing.assert_allclose(vectors, want.numpy(), rtol=0, atol=1e-5)
    assert json.loads((tmp_path / "p.json").read_text())["output"] == "embedding"
    assert main(["compare", str(paths[0]), str(paths[1]), "--weights", weights]) == 0
    printed = float(capsys.readouterr().out.split("squared distance ")[1].split()[0])
    assert printed == pytest.approx(float(((vectors[0] - vectors[1]) ** 2).sum()), abs=1e-4)


def test_embedding_networks_say_so_write_csv_and_refuse_evaluate(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A small FaceNet-shaped network: config.json labels the head; the CSV holds the image
    and its vector; an image compared with itself is at distance 0, "the same person";
    evaluate refuses it in one line."""
    model = create_model("inception_resnet_v1_facenet", width=0.25, depth=0.2)
    weights = str(save_pretrained(model, tmp_path / "w"))
    assert json.loads((tmp_path / "w" / "config.json").read_text())["head"] == "embedding"
    face = _faces(tmp_path / "faces")[0]
    table = tmp_path / "e.csv"
    assert main(["predict", str(face), "--weights", weights, "--embeddings", str(table)]) == 0
    rows = list(csv.reader(table.open()))
    vector = np.array(rows[1][1:], dtype=np.float64)
    assert rows[0][:2] == ["image", "e0"] and rows[1][0] == str(face) and len(vector) == 128
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
    capsys.readouterr()
    assert main(["compare", str(face), str(face), "--weights", weights]) == 0
    out = capsys.readouterr().out
    assert "squared distance 0.0000" in out and "(threshold 1.1): the same person" in out
    assert main(["evaluate", "--weights", weights, "--data", "embedded", "--limit", "2",
                 "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "is an embedding network (128-d vectors, no classes)" in err
