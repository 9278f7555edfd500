"""The data package: every DATA form, bad images, Inception preprocessing, the loader."""

from __future__ import annotations

import io
import math
import struct
import tarfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inception_v4.data import (
    BadImageError,
    build_loader,
    create_transform,
    detect_layout,
    eval_transform,
    open_dataset,
    open_eval_dataset,
    train_transform,
)
from inception_v4.data import embedded as embedded_module
from inception_v4.data.transforms import central_box
from inception_v4.models import default_cfg

COLOURS = {"cat": (200, 30, 30), "dog": (30, 200, 30), "eel": (30, 30, 200)}


def _jpeg(colour=(128, 128, 128), size=(12, 10), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=95, **save)
    return buf.getvalue()


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for k in range(n):
            (root / cls / f"{cls}_{k:03d}.jpg").write_bytes(_jpeg(COLOURS[cls]))
    return root


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _assert_sample(dataset, size: tuple[int, int]) -> None:
    x, label = dataset[0]
    assert x.shape == (3, *size) and x.dtype == torch.float32
    assert -1.0 <= x.min() and x.max() <= 1.0 and label == dataset.label(0)


# ---------------------------------------------------------------- DATA forms
def test_split_folders_label_val_by_train_classes(tmp_path):
    _image_folder(tmp_path / "train", {"cat": 3, "dog": 2, "eel": 1})
    _image_folder(tmp_path / "val", {"eel": 2})
    train, val = open_dataset(tmp_path, "train"), open_dataset(tmp_path, "val")
    assert (len(train), len(val)) == (6, 2)
    assert train.classes == val.classes == ["cat", "dog", "eel"]
    assert train.labels == [0, 0, 0, 1, 1, 2] and val.labels == [2, 2]
    _assert_sample(train, (10, 12))
    assert val[1][0][0, 0, 0] < -0.6  # eel is blue: red channel (30/127.5 - 1) = -0.76


def test_test_folder_serves_as_val_and_classes_tsv_names(tmp_path):
    _image_folder(tmp_path / "train", {"cat": 1, "dog": 1})
    _image_folder(tmp_path / "test", {"cat": 1, "dog": 1})
    (tmp_path / "classes.tsv").write_text("0\tcat\tfelis catus\n1\tdog\tcanis familiaris\n")
    assert open_dataset(tmp_path, "val").classes == ["felis catus", "canis familiaris"]


def test_single_folder_holds_out_fixed_stratified_ten_percent(tmp_path):
    _image_folder(tmp_path, {"cat": 20, "dog": 30, "eel": 10})
    train, val = open_dataset(tmp_path, "train"), open_dataset(tmp_path, "val")
    names = lambda d: {d.name(i) for i in range(len(d))}  # noqa: E731
    assert (len(train), len(val)) == (54, 6)
    assert Counter(val.labels) == {0: 2, 1: 3, 2: 1}
    assert not names(train) & names(val) and len(names(train) | names(val)) == 60
    assert names(open_dataset(tmp_path, "val")) == names(val)
    assert names(open_dataset(tmp_path, "val", seed=1)) != names(val)


@pytest.mark.parametrize("ext,val_name", [(".tar", "val"), (".tar.gz", "test")])
def test_tar_form_reads_members_in_place(tmp_path, ext, val_name):
    blue, red = _jpeg(COLOURS["eel"], (16, 8)), _jpeg(COLOURS["cat"], (16, 8))
    _tar(tmp_path / f"train{ext}", {"cat/a.jpg": red, "cat/b.jpg": red, "eel/c.jpg": blue})
    _tar(tmp_path / f"{val_name}{ext}", {"./eel/d.jpg": blue, "eel/notes.txt": b"x"})
    before = sorted(tmp_path.iterdir())
    train, val = open_dataset(tmp_path, "train"), open_dataset(tmp_path, "val")
    assert (len(train), len(val), train.labels, val.labels) == (3, 1, [0, 0, 1], [1])
    assert train.classes == val.classes == ["cat", "eel"]
    assert val.name(0).endswith(f"{val_name}{ext}:eel/d.jpg")
    _assert_sample(train, (8, 16))
    images, labels, skipped = next(iter(build_loader(train, 3, shuffle=False, workers=2)))
    assert labels.tolist() == [0, 0, 1] and skipped == 0
    assert images[2, 2].mean() > 0.5 and images[0, 0].mean() > 0.5  # blue eel, red cats
    assert sorted(tmp_path.iterdir()) == before  # nothing extracted


def test_imagenette_tars(shared_dir):
    data = shared_dir / "datasets" / "imagenette-96"
    if not (data / "train.tar").is_file():
        pytest.skip(f"imagenette-96 not found in {data}")
    train, val = open_dataset(data, "train"), open_dataset(data, "val")
    assert (len(train), len(val), train.num_classes) == (9469, 3925, 10)
    assert train.classes[:2] == ["tench", "English springer"] and val.classes == train.classes
    assert Counter(train.labels)[0] == 963 and Counter(val.labels)[9] == 390
    _assert_sample(train, (96, 96))


def test_cifar10_tar_gz(shared_dir):
    data = shared_dir / "datasets" / "cifar10"
    if not (data / "train.tar.gz").is_file():
        pytest.skip(f"cifar10 not found in {data}")
    train, val = open_dataset(data, "train"), open_dataset(data, "val")
    assert (len(train), len(val)) == (50000, 10000)
    assert train.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                             "horse", "ship", "truck"]
    assert Counter(val.labels) == {k: 1000 for k in range(10)}
    _assert_sample(val, (32, 32))


def test_embedded_fashion_mnist_or_digits():
    train, val = open_dataset("embedded", "train"), open_dataset("embedded", "val")
    if embedded_module._fashion_files(embedded_module.FASHION_MNIST_DIR, "train"):
        assert (len(train), len(val), train.classes[0]) == (60000, 10000, "T-shirt/top")
        _assert_sample(train, (28, 28))
    else:
        assert len(train) + len(val) == 1797
    assert train.num_classes == 10 and train.load(0).mode == "RGB"


def test_embedded_falls_back_to_digits(monkeypatch, tmp_path, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(embedded_module, "FASHION_MNIST_DIR", tmp_path)
    train, val = open_dataset("embedded", "train"), open_dataset("embedded", "val")
    assert "digits" in capsys.readouterr().err
    per_class = Counter(pytest.importorskip("sklearn.datasets").load_digits().target.tolist())
    assert Counter(val.labels) == {c: round(n / 10) for c, n in per_class.items()}
    assert (len(train) + len(val), train.classes) == (1797, [str(d) for d in range(10)])
    _assert_sample(val, (8, 8))


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_dataset(tmp_path / "nope", "train")
    with pytest.raises(ValueError, match="accepted: a folder with train/"):
        open_dataset(tmp_path, "train")
    with pytest.raises(ValueError, match="'train' or 'val'"):
        open_dataset(tmp_path, "test")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="no images in"):
        open_dataset(tmp_path, "train")
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "a.jpg").write_bytes(_jpeg())
    with pytest.raises(ValueError, match="class folder.* with no images.*: cat"):
        open_dataset(tmp_path, "train")
    only = _image_folder(tmp_path / "only" / "train", {"cat": 1}).parent
    with pytest.raises(ValueError, match="neither val/ nor test/"):
        open_dataset(only, "train")


def test_training_and_evaluation_open_the_same_parts_through_one_detector(tmp_path):
    split = tmp_path / "split"
    _image_folder(split / "train", {"cat": 3, "dog": 2})
    _image_folder(split / "val", {"cat": 1, "dog": 2})
    (split / "ILSVRC2012_img_val.tar").write_bytes(b"")  # the class folders come first
    tars = tmp_path / "tars"
    tars.mkdir()
    _tar(tars / "train.tar", {"cat/a.jpg": _jpeg(), "dog/b.jpg": _jpeg()})
    _tar(tars / "test.tar.gz", {"dog/c.jpg": _jpeg()})
    tree = _image_folder(tmp_path / "tree", {"cat": 10, "dog": 10})
    names = lambda d: [d.name(i) for i in range(len(d))]  # noqa: E731
    for data, kind in ((split, "split folders"), (tars, "tars"), (tree, "tree")):
        assert detect_layout(data).kind == kind
        for part in ("train", "val"):
            ours, _ = open_eval_dataset(data, part)
            theirs = open_dataset(data, part)
            assert (names(ours), ours.labels, ours.classes) == \
                (names(theirs), theirs.labels, theirs.classes), (kind, part)
    archive = tmp_path / "archive"
    (archive / "train").mkdir(parents=True)
    (archive / "ILSVRC2012_img_val.tar").write_bytes(b"")
    assert detect_layout(archive).kind == "val archive"
    with pytest.raises(ValueError, match="is a validation set"):
        open_dataset(archive, "train")


@pytest.mark.parametrize("member", ["loose.jpg", "cat/deeper/a.jpg"])
def test_tar_member_outside_class_file_is_an_error(tmp_path, member):
    _tar(tmp_path / "train.tar", {"cat/a.jpg": _jpeg(), member: _jpeg()})
    _tar(tmp_path / "val.tar", {"cat/b.jpg": _jpeg()})
    with pytest.raises(ValueError, match=f"member '{member}' is not <class>/<image>"):
        open_dataset(tmp_path, "train")


# ---------------------------------------------------------------- bad and special images
def test_bad_images_are_named_and_skipped(tmp_path):
    _image_folder(tmp_path / "train", {"cat": 2, "dog": 2})
    _image_folder(tmp_path / "val", {"cat": 1})
    big = _jpeg(size=(64, 64), colour=(1, 2, 3))
    (tmp_path / "train" / "cat" / "truncated.jpg").write_bytes(big[: len(big) // 2])
    (tmp_path / "train" / "dog" / "empty.jpg").write_bytes(b"")
    (tmp_path / "train" / "dog" / "text.jpg").write_text("not an image\n")
    data = open_dataset(tmp_path, "train")
    bad = [i for i in range(len(data)) if "cat_" not in data.name(i) and "dog_" not in data.name(i)]
    for i in bad:
        with pytest.raises(BadImageError, match=Path(data.name(i)).name):
            data.load(i)
    batches = list(build_loader(data, 3, shuffle=True, workers=0))
    assert sum(b[2] for b in batches) == 3 and sum(len(b[1]) for b in batches) == 4
    data.skip_bad = False
    with pytest.raises(BadImageError, match="empty file"):
        data[bad[1]]


def _encode(image: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("image,fmt,expected", [
    (Image.new("L", (4, 4), 100), "PNG", (100, 100, 100)),
    (Image.new("1", (4, 4), 1), "PNG", (255, 255, 255)),
    (Image.new("LA", (4, 4), (70, 0)), "PNG", (70, 70, 70)),
    (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), "PNG", (10, 20, 30)),
    (_palette_with_transparency(), "PNG", (10, 20, 30)),
    (Image.new("I;16", (4, 4), 32896), "PNG", (128, 128, 128)),
    (Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", (255, 0, 0)),
])
def test_special_modes_become_rgb(tmp_path, image, fmt, expected):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / f"x.{fmt.lower()}").write_bytes(_encode(image, fmt))
    rgb = open_dataset(tmp_path, "train").load(0)
    assert rgb.mode == "RGB"
    assert np.allclose(np.asarray(rgb)[2, 2], expected, atol=3)


def test_exif_rotation_and_draft_decoding(tmp_path):
    image = Image.new("RGB", (512, 256), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 256, 256))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90° clockwise
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(_encode(image, "JPEG", exif=exif, quality=95))
    data = open_dataset(tmp_path, "train")
    upright = np.asarray(data.load(0))
    assert upright.shape == (512, 256, 3)  # width 256, height 512: now portrait
    assert upright[64, 128, 0] > 200 and upright[448, 128, 2] > 200  # red on top, blue below
    assert data.load(0, draft_size=64).size == (64, 128)  # DCT scale 1/4: min(512/64, 256/64)


def _png_claiming(width: int, height: int) -> bytes:
    png = bytearray(_encode(Image.new("L", (1, 1)), "PNG"))
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def test_decompression_bomb_refused_with_limit(tmp_path):
    for cls in "ab":  # one image per class: nothing held out
        (tmp_path / cls).mkdir()
    (tmp_path / "a" / "bomb.png").write_bytes(_png_claiming(100_000, 100_000))
    (tmp_path / "b" / "big.png").write_bytes(_encode(Image.new("L", (40, 40)), "PNG"))
    data = open_dataset(tmp_path, "train")
    with pytest.raises(BadImageError, match=r"bomb\.png.*limit of 89,478,485 pixels"):
        data.load(0)
    assert data.load(1).size == (40, 40)
    data.max_pixels = 1000
    with pytest.raises(BadImageError, match=r"big\.png: 40x40 = 1,600 .*limit of 1,000 pixels"):
        data.load(1)


# ---------------------------------------------------------------- transforms
def test_central_box_is_tf_central_crop():
    # int((500 - 437.5) / 2) = 31, int((375 - 328.125) / 2) = 23; sizes 500 - 62, 375 - 46.
    assert central_box(500, 375, 0.875) == (31, 23, 469, 352)
    assert central_box(41, 30, 0.5) == (10, 7, 31, 23)


def test_eval_transform_matches_hand_computation():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)
    out = eval_transform((16, 21), crop_pct=0.5)(Image.fromarray(pixels))  # box = output size
    expected = torch.from_numpy(pixels[7:23, 10:31]).permute(2, 0, 1) / 127.5 - 1
    assert torch.allclose(out, expected.float(), atol=1e-6)
    square = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = eval_transform(8, crop_pct=0.5, interpolation="box")(Image.fromarray(square))
    means = square[8:24, 8:24].reshape(8, 2, 8, 2, 3).mean(axis=(1, 3))  # 2×2 block means
    assert np.abs(out.permute(1, 2, 0).numpy() - (means / 127.5 - 1)).max() <= 1.01 / 127.5
    assert eval_transform(75)(Image.fromarray(pixels)).shape == (3, 75, 75)  # small: upsized


def test_train_transform_shape_range_and_jitter_bounds():
    grey = Image.new("RGB", (70, 50), (128, 128, 128))
    outputs = torch.stack([train_transform(33)(grey) for _ in range(20)])
    assert outputs.shape == (20, 3, 33, 33)
    per_image = outputs.flatten(1)
    assert torch.equal(per_image.min(1).values, per_image.max(1).values)  # grey stays uniform
    shift = (per_image[:, 0] + 1) / 2 - 128 / 255  # brightness only: saturation keeps grey
    assert shift.abs().max() <= 32 / 255 + 1e-6 and shift.std() > 0.01
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 60, 3), np.uint8))
    x = train_transform((24, 32))(noise)
    assert x.shape == (3, 24, 32) and x.min() >= -1 and x.max() <= 1


def test_create_transform_reads_pretrained_cfg():
    class Stub:
        pretrained_cfg = default_cfg("inception_v4")

    transform = create_transform(Stub())
    assert transform.draft_size == math.ceil(299 / 0.875)
    assert transform(Image.new("RGB", (400, 300))).shape == (3, 299, 299)
    assert create_transform(Stub(), training=True)(Image.new("RGB", (50, 40))).shape[1:] == (
        299, 299)
    with pytest.raises(ValueError, match="pretrained_cfg"):
        create_transform(object())
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        create_transform({"interpolation": "cubic"})


def test_per_image_standardisation_is_facenet_prewhiten():
    facenet = create_transform(default_cfg("inception_resnet_v1_facenet"))
    pixels = np.random.default_rng(2).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    x = pixels.astype(np.float64)
    expected = (x - x.mean()) / max(x.std(), 1 / math.sqrt(x.size))
    out = facenet(Image.fromarray(pixels)).permute(1, 2, 0).numpy()
    assert np.abs(out - expected).max() < 1e-4
    flat = facenet(Image.new("RGB", (160, 160), (9, 9, 9)))
    assert flat.abs().max() == 0  # std 0: divided by 1/sqrt(n), not by zero


# ---------------------------------------------------------------- loader
def test_build_loader_is_seeded(tmp_path):
    data = open_dataset(_image_folder(tmp_path, {"cat": 8, "dog": 8}), "train")
    order = lambda seed: [  # noqa: E731
        b[1].tolist() for b in build_loader(data, 4, shuffle=True, workers=0, seed=seed)]
    assert order(3) == order(3) and order(3) != order(4)
    loader = build_loader(data, 4, shuffle=False, workers=1)
    assert loader.persistent_workers and loader.pin_memory == torch.cuda.is_available()
    with pytest.raises(ValueError, match="shuffle=False with a sampler"):
        build_loader(data, 4, shuffle=True, workers=0, sampler=range(3))
