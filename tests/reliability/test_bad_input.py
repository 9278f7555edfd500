"""Bad and unusual image files on the evaluation and prediction side (the data package's own
tests, ``tests/test_data.py``, cover decoding each kind and reuse is made of its encoders):
training skips and counts them, ``evaluate`` names every unreadable file (or skips and
lists them with ``--skip-bad``), ``predict`` gives a per-file error and goes on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_data import _encode, _jpeg, _palette_with_transparency, _png_claiming

from inception_v4 import create_model, save_pretrained
from inception_v4.cli import main
from inception_v4.data import build_loader, open_dataset, train_transform


def _exif_rotated() -> bytes:
    image = Image.new("RGB", (96, 80), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 48, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90° clockwise
    return _encode(image, "JPEG", exif=exif, quality=95)


BAD = {  # name → (bytes, what the error says)
    "truncated.jpg": (_jpeg(size=(64, 64))[:300], "cannot decode"),
    "empty.jpg": (b"", "empty file"),
    "text.jpg": (b"just some text, not a JPEG\n", "cannot decode"),
    "bomb.png": (_png_claiming(100_000, 100_000), "limit of 89,478,485 pixels"),
}
GOOD = {
    "alpha.png": lambda: _encode(Image.new("RGBA", (90, 90), (10, 200, 30, 0)), "PNG"),
    "grey.png": lambda: _encode(Image.new("L", (90, 90), 100), "PNG"),
    "cmyk.jpg": lambda: _encode(Image.new("CMYK", (90, 90), (0, 255, 255, 0)), "JPEG"),
    "sixteen.png": lambda: _encode(Image.new("I;16", (90, 90), 32896), "PNG"),
    "palette.png": lambda: _encode(_palette_with_transparency(), "PNG"),
    "tiny.png": lambda: _encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"),
    "exif.jpg": _exif_rotated,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``train/`` and ``val/`` with one class per bad or good file plus a normal image."""
    root = tmp_path_factory.mktemp("bad_input")
    for split in ("train", "val"):
        for cls, colour in (("blue", (0, 0, 255)), ("green", (0, 255, 0))):
            (root / split / cls).mkdir(parents=True)
            (root / split / cls / "x.jpg").write_bytes(_jpeg(colour, size=(90, 90)))
        (root / split / "ok").mkdir(parents=True)
        (root / split / "ok" / "ok.jpg").write_bytes(_jpeg(size=(90, 90)))
        for name, (data, _) in BAD.items():
            (root / split / "ok" / name).write_bytes(data)
        for name, make in GOOD.items():
            (root / split / "ok" / name).write_bytes(make())
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = create_model("inception_resnet_v2", num_classes=3, width=0.25, depth=0.2).eval()
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, 75, 75)}
    return save_pretrained(model, tmp_path_factory.mktemp("w") / "w")


def _record(reliability, names: Iterable[str], where: str, tries: int,  # noqa: ANN001
            outcome: str) -> None:
    """One row of docs/RELIABILITY.md per file name."""
    for name in names:
        reliability("bad input", f"{name} in {where}", tries, outcome)


def test_training_loader_skips_and_counts_every_bad_file(folder: Path, reliability) -> None:  # noqa: ANN001
    data = open_dataset(folder, "train")
    data.transform = train_transform(75)
    batches = list(build_loader(data, 4, shuffle=True, workers=0))
    assert sum(int(b[2]) for b in batches) == len(BAD)
    assert sum(len(b[1]) for b in batches) == len(GOOD) + 3
    _record(reliability, BAD, "training", 1,
            "skipped and counted in the batch's skip count (training goes on)")
    _record(reliability, GOOD, "training", 1, "decoded to RGB and trained on")


def test_evaluate_names_every_unreadable_file_or_skips_them(folder: Path, weights: Path,
                                                            tmp_path: Path,
                                                            capsys: pytest.CaptureFixture,
                                                            reliability) -> None:  # noqa: ANN001
    common = ["evaluate", "--weights", str(weights), "--data", str(folder), "--workers", "0",
              "--device", "cpu"]
    assert main(common) == 2
    err = capsys.readouterr().err
    assert f"{len(BAD)} unreadable image(s)" in err and "--skip-bad" in err
    assert all(name in err for name in BAD)
    out = tmp_path / "r.json"
    assert main([*common, "--skip-bad", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["images"] == len(GOOD) + 3
    skipped = sorted(Path(s.split(": ", 1)[0]).name for s in result["skipped"])
    assert skipped == sorted(BAD)
    _record(reliability, BAD, "evaluate", 2,
            "named in a one-line error (exit 2); with --skip-bad skipped and listed")
    _record(reliability, GOOD, "evaluate", 1, "evaluated")


def test_predict_gives_a_per_file_error_and_goes_on(folder: Path, weights: Path,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    reliability) -> None:  # noqa: ANN001
    files = [folder / "val" / "ok" / n for n in [*BAD, *GOOD]]
    upright = np.asarray(Image.open(folder / "val" / "ok" / "exif.jpg").transpose(
        Image.Transpose.ROTATE_270))
    Image.fromarray(upright).save(tmp_path / "upright.png")
    out = tmp_path / "p.json"
    rc = main(["predict", *map(str, files), str(tmp_path / "upright.png"), "--weights",
               str(weights), "--device", "cpu", "--topk", "3", "--json", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(BAD)
    for (name, (_, reason)), line in zip(BAD.items(), err, strict=True):
        assert name in line and reason in line
    result = json.loads(out.read_text())
    done = {Path(p["image"]).name: p["top"] for p in result["predictions"]}
    assert sorted(done) == sorted([*GOOD, "upright.png"])
    assert [Path(e["image"]).name for e in result["errors"]] == list(BAD)
    # EXIF orientation honoured: the rotated JPEG predicts as its upright copy does
    probs = {n: [t["probability"] for t in done[n]] for n in ("exif.jpg", "upright.png")}
    assert np.allclose(probs["exif.jpg"], probs["upright.png"], atol=0.02)
    _record(reliability, BAD, "predict", 1,
            "per-file error naming the file and reason; the other files predicted")
    for name in GOOD:
        reliability("bad input", f"{name} in predict", 1,
                    "predicted" + (" (EXIF rotation honoured)" if name == "exif.jpg" else ""))
