"""Evaluation sees every image it is given, in every layout ILSVRC-2012 validation comes in.

A miniature validation set made of real ILSVRC-2012 validation images (Imagenette's val images
that keep their ``ILSVRC2012_val_%08d`` names) is written as class folders, a flat folder with
Caffe's ``val.txt``, a flat folder with the devkit's ground truth and ``meta.mat``, and the two
official archives; a model trained in the test must give the same images, predictions, errors
and blacklist subset on each.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inception_v4.evaluate.commands as commands
from inception_v4.cli import main
from inception_v4.data import open_eval_dataset
from inception_v4.data.imagenet_val import DEVKIT_ARCHIVE, GROUND_TRUTH, VAL_ARCHIVE

SIZE = 75
# Images per class (sorted wnids): 23 in all, a count the 10 % hold-out (one per class here,
# 10 images) cannot produce.
COUNTS = [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
ILSVRC_IMAGES = 50_000


@pytest.fixture(scope="module")
def nette(shared_dir: Path) -> Path:
    return shared_dir / "datasets" / "imagenette-96"


@pytest.fixture(scope="module")
def run(nette: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two training steps of a width-0.125, depth-0.2 Inception-v4 at 75×75 on Imagenette
    (10 classes in sorted-wnid order), as a run folder."""
    from inception_v4.train import TrainConfig, fit

    out = tmp_path_factory.mktemp("layouts_run") / "run"
    fit(TrainConfig(model="inception_v4", data=str(nette), out=str(out), width=0.125,
                    depth=0.2, image_size=SIZE, max_steps=2, batch_size=4, reference_batch=4,
                    optimizer="sgd", lr=0.05, ema_decay=0.5, eval_max_images=4, workers=0,
                    device="cpu", resume="never", log_every=1))
    return out


@pytest.fixture(scope="module")
def mini(nette: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The miniature validation set in every layout; ``images``: {file name: wnid}."""
    pytest.importorskip("scipy.io")  # writes meta.mat (scikit-learn, a test extra, brings it)
    root = tmp_path_factory.mktemp("ilsvrc_mini")
    wnids = [line.split("\t")[1] for line in (nette / "classes.tsv").read_text().splitlines()]
    assert wnids == sorted(wnids)
    data: dict[str, bytes] = {}
    images: dict[str, str] = {}
    with tarfile.open(nette / "val.tar") as tar:
        members = sorted(m.name for m in tar if "/ILSVRC2012_val_" in m.name)
        for wnid, count in zip(wnids, COUNTS, strict=True):
            for member in [m for m in members if m.startswith(wnid + "/")][:count]:
                name = Path(member).stem + ".JPEG"  # the official name
                data[name] = tar.extractfile(member).read()
                images[name] = wnid
    assert len(images) == sum(COUNTS)

    # (1) class folders, as the usual preparation script leaves the validation set.
    for name, wnid in images.items():
        (root / "tree" / wnid).mkdir(parents=True, exist_ok=True)
        (root / "tree" / wnid / name).write_bytes(data[name])
    # (2) the flat folder of ILSVRC2012_val_%08d.JPEG files.
    (root / "flat").mkdir()
    for name in images:
        (root / "flat" / name).write_bytes(data[name])
    # (3) Caffe's val.txt: labels in sorted-wnid order, lines for images we do not have too.
    (root / "caffe").mkdir()
    lines = [f"{name} {wnids.index(w)}" for name, w in sorted(images.items(), reverse=True)]
    lines += ["ILSVRC2012_val_00000001.JPEG 3", "ILSVRC2012_val_00000002.JPEG 7"]
    (root / "caffe" / "val.txt").write_text("\n".join(lines) + "\n")
    # (4) the devkit: ILSVRC2012_IDs in an order other than the sorted wnids (as in the real
    # meta.mat), an inner synset that is no class, a ground truth line per validation image.
    ids = {w: len(wnids) - k for k, w in enumerate(wnids)}  # n01440764 → 10, ... → 1
    meta = _meta_mat(ids)
    index = {int(name[15:23]): name for name in images}
    truth = "".join(f"{ids[images[index[n]]] if n in index else 1 + n % 10}\n"
                    for n in range(1, ILSVRC_IMAGES + 1))
    devkit = root / "devkit" / "data"
    devkit.mkdir(parents=True)
    (devkit / "meta.mat").write_bytes(meta)
    (devkit / GROUND_TRUTH).write_text(truth)
    # (5) the official archives: a flat image tar and the devkit tar.gz, side by side.
    (root / "archives").mkdir()
    with tarfile.open(root / "archives" / VAL_ARCHIVE, "w") as tar:
        for name in sorted(images):
            _add(tar, name, data[name])
    with tarfile.open(root / "archives" / DEVKIT_ARCHIVE, "w:gz") as tar:
        _add(tar, "ILSVRC2012_devkit_t12/COPYING", b"devkit\n")
        _add(tar, "ILSVRC2012_devkit_t12/data/meta.mat", meta)
        _add(tar, f"ILSVRC2012_devkit_t12/data/{GROUND_TRUTH}", truth.encode())
    # The blacklist: 5 of our images and 2 validation images we do not have.
    listed = sorted(index)[::5] + [1, 2]
    (root / "blacklist.txt").write_text("".join(f"{k}\n" for k in listed))
    return {"root": root, "images": images, "wnids": wnids,
            "blacklisted": sum(k in index for k in listed)}


def _meta_mat(ids: dict[str, int]) -> bytes:
    """A devkit-style meta.mat: a ``synsets`` struct array with the devkit's fields."""
    from scipy.io import savemat

    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]
    rows = [(i, w, f"synset {w}, the {i}th", "a class", 0, np.zeros((1, 0)), 0, 1300)
            for w, i in sorted(ids.items(), key=lambda item: item[1])]
    rows.append((len(ids) + 1, "n00001740", "entity", "the root", 2, np.array([1, 2]), 19, 0))
    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for k, row in enumerate(rows):
        synsets[k, 0] = row
    buffer = io.BytesIO()
    savemat(buffer, {"synsets": synsets})
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _evaluate(run: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              *extra: str, command: str = "evaluate") -> tuple[dict, dict]:
    """The CLI's JSON, and {file name: (label, top-5 classes, true-class probability)} from the
    very predictions it summarised."""
    seen = {}

    def spy(models, dataset, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        seen["pred"] = real(models, dataset, *args, **kwargs)
        seen["dataset"] = dataset
        return seen["pred"]

    real = commands.collect_predictions
    monkeypatch.setattr(commands, "collect_predictions", spy)
    out = tmp_path / f"{data.name}.json"
    weights = ["--member", str(run)] if command == "ensemble" else ["--weights", str(run)]
    assert main([command, *weights, "--data", str(data), "--workers", "0", "--device", "cpu",
                 "--json", str(out), *extra]) == 0
    pred, dataset = seen["pred"], seen["dataset"]
    per_image = {}
    for j, i in enumerate(pred.index.tolist()):
        name = Path(dataset.name(i).rsplit(":", 1)[-1]).name
        per_image[name] = (int(pred.label[j]), pred.top_class[j].tolist(),
                           float(pred.true_prob[j]))
    return json.loads(out.read_text()), per_image


LAYOUTS = {
    "class folders": ("tree", []),
    "flat + val.txt": ("flat", ["--labels", "caffe/val.txt"]),
    "flat + ground truth + meta.mat": ("flat", ["--labels", f"devkit/data/{GROUND_TRUTH}"]),
    "flat + devkit folder": ("flat", ["--labels", "devkit"]),
    "official archives": ("archives", []),
}


def test_every_layout_gives_the_same_images_predictions_and_errors(
        run: Path, mini: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, n = mini["root"], len(mini["images"])
    expected_labels = {name: mini["wnids"].index(w) for name, w in mini["images"].items()}
    results, predictions = {}, {}
    for layout, (data, extra) in LAYOUTS.items():
        extra = [str(root / e) if e.startswith(("caffe", "devkit")) else e for e in extra]
        r, per_image = _evaluate(run, root / data, tmp_path / layout.replace(" ", "_"),
                                 monkeypatch, "--blacklist", str(root / "blacklist.txt"), *extra)
        assert (r["split"], r["images_found"], r["images_total"], r["images"],
                r["images_skipped"]) == ("all", n, n, n, 0), layout
        assert {k: v[0] for k, v in per_image.items()} == expected_labels, layout
        assert r["subset"]["excluded"] == mini["blacklisted"] == 5, layout
        assert r["subset"]["images"] == n - 5, layout
        results[layout], predictions[layout] = r, per_image
    first = next(iter(LAYOUTS))
    keys = ("images", "top1_err", "top5_err", "top1_acc", "top5_acc")
    for layout in LAYOUTS:
        assert list(predictions[layout]) == list(predictions[first]), layout  # same order too
        for name, (label, top, prob) in predictions[layout].items():
            ref = predictions[first][name]
            assert (label, top) == ref[:2] and prob == pytest.approx(ref[2], abs=1e-6), name
        assert {k: results[layout][k] for k in keys} == {k: results[first][k] for k in keys}
        assert results[layout]["subset"] == results[first]["subset"], layout
    assert results["official archives"]["layout"].startswith(VAL_ARCHIVE)
    assert results["flat + val.txt"]["labels"] == str(root / "caffe" / "val.txt")


def test_class_folder_tree_reports_every_image_and_the_hold_out_only_on_request(
        run: Path, mini: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    n = len(mini["images"])
    r, _ = _evaluate(run, mini["root"] / "tree", tmp_path, monkeypatch)
    assert (r["layout"], r["split"], r["images_found"], r["images"]) == ("class folders", "all",
                                                                         n, n)
    assert f"split all: {n} images found, {n} evaluated" in capsys.readouterr().out
    r, _ = _evaluate(run, mini["root"] / "tree", tmp_path, monkeypatch, "--split", "val",
                     command="ensemble")
    assert (r["split"], r["images_found"], r["images_total"], r["images"]) == ("val", n, 10, 10)
    assert f"split val: {n} images found, 10 in the split, 10 evaluated" in \
        capsys.readouterr().out
    bad = tmp_path / "with_bad"  # an unreadable file: found, not evaluated, counted as skipped
    for name, wnid in mini["images"].items():
        _copy(mini["root"] / "tree" / wnid / name, bad / wnid / name)
    (bad / mini["wnids"][0] / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"not a JPEG")
    r, _ = _evaluate(run, bad, tmp_path, monkeypatch, "--skip-bad")
    assert (r["images_found"], r["images_total"], r["images"], r["images_skipped"]) == \
        (n + 1, n + 1, n, 1)
    assert f"{n + 1} images found, {n} evaluated, 1 skipped" in capsys.readouterr().out


def test_layout_errors_say_what_is_wrong(run: Path, mini: dict, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    root = mini["root"]

    def error(*argv: str) -> str:
        assert main(["evaluate", "--weights", str(run), "--workers", "0", "--device", "cpu",
                     *argv]) == 2
        return capsys.readouterr().err

    assert "no class folders and no labels: pass --labels" in error("--data", str(root / "flat"))
    short = tmp_path / "val.txt"  # a labels file that misses an image
    short.write_text("\n".join((root / "caffe" / "val.txt").read_text().splitlines()[1:]))
    assert "1 image(s) have no line in" in error("--data", str(root / "flat"), "--labels",
                                                 str(short))
    wide = tmp_path / "wide" / "val.txt"  # 1000-class labels for a 10-class model
    wide.parent.mkdir()
    wide.write_text("".join(f"{name} {500 + k}\n" for k, name in enumerate(mini["images"])))
    assert "do not match" in error("--data", str(root / "flat"), "--labels", str(wide))
    assert "Drop --labels" in error("--data", str(root / "tree"), "--labels", str(short))
    assert "no train part" in error("--data", str(root / "archives"), "--split", "train")
    renamed = tmp_path / "renamed"  # class folders whose names carry no validation index
    for k, name in enumerate(sorted(mini["images"])):
        _copy(root / "flat" / name, renamed / mini["images"][name] / f"img{k}.jpg")
    err = error("--data", str(renamed), "--blacklist", str(root / "blacklist.txt"))
    assert "none of the 23 image(s) carries one" in err and "drop --blacklist" in err


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())


def _png(path: Path, colour: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (colour, 0, 0)).save(path)


def test_split_override_on_train_and_val_folders(tmp_path: Path) -> None:
    for split, count in (("train", 4), ("val", 3)):
        for c in ("a", "b"):
            for k in range(count):
                _png(tmp_path / split / c / f"{split}{k}.png")
    expect = {"auto": ("val", 6), "val": ("val", 6), "train": ("train", 8), "all": ("all", 14)}
    for split, (part, n) in expect.items():
        ds, info = open_eval_dataset(tmp_path, split)
        assert (info["split"], info["images_found"], len(ds)) == (part, n, n), split
        assert ds.classes == ["a", "b"] and sorted(set(ds.labels)) == [0, 1]
    ds, _ = open_eval_dataset(tmp_path, "all")
    assert ds.load(13).size == (8, 8) and "val/b/val2.png" in ds.name(13)
    with pytest.raises(ValueError, match="split must be one of"):
        open_eval_dataset(tmp_path, "test")


def test_devkit_labels_follow_sorted_wnids_and_meta_mat_class_count(mini: dict) -> None:
    root = mini["root"]
    ds, info = open_eval_dataset(root / "flat", labels=root / "devkit")
    assert info["layout"] == "flat folder + devkit ground truth"
    assert ds.num_classes == 10 and ds.classes[0] == "synset n01440764"  # inner synset dropped
    by_name = {Path(ds.name(i)).name: ds.label(i) for i in range(len(ds))}
    assert by_name == {name: mini["wnids"].index(w) for name, w in mini["images"].items()}
    alone, _ = open_eval_dataset(root / "flat", labels=root / "caffe" / "val.txt")
    assert alone.num_classes == 10  # no class list: largest label + 1 without a model
    assert open_eval_dataset(root / "flat", labels=root / "caffe" / "val.txt",
                             num_classes=1000)[0].classes[0] == "tench"
    tar, info = open_eval_dataset(root / "archives" / VAL_ARCHIVE)  # the tar itself
    assert info["layout"] == f"{VAL_ARCHIVE} + devkit ground truth" and tar.labels == ds.labels
    named = root / "caffe_named"  # Caffe's synset list beside val.txt names the classes
    named.mkdir(exist_ok=True)
    (named / "val.txt").write_text((root / "caffe" / "val.txt").read_text())
    (named / "synset_words.txt").write_text("".join(f"{w} name {w}, other\n"
                                                    for w in mini["wnids"]))
    caffe, _ = open_eval_dataset(root / "flat", labels=named / "val.txt", num_classes=1000)
    assert caffe.classes == [f"name {w}" for w in mini["wnids"]] and caffe.labels == ds.labels
    with pytest.raises(FileNotFoundError, match="needs the devkit's meta.mat beside it"):
        lone = root / "lone"
        lone.mkdir(exist_ok=True)
        (lone / GROUND_TRUTH).write_text((root / "devkit" / "data" / GROUND_TRUTH).read_text())
        open_eval_dataset(root / "flat", labels=lone / GROUND_TRUTH)
