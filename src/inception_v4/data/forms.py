"""The accepted forms of a DATA argument: one layout detector and one opener, for training
(``open_dataset``) and evaluation (``open_eval_dataset``, which adds ILSVRC's flat forms).

:func:`detect_layout` recognises, in this order:

(a) ``"embedded"``: Fashion-MNIST (Debian ``dataset-fashion-mnist``), else scikit-learn digits;
(b) a folder with ``train/`` and ``val/`` (or ``test/``) class folders (``class/image``);
(c) ``ILSVRC2012_img_val.tar`` (the file, or a folder holding it): a validation set only;
(d) a folder with ``train.tar`` and ``val.tar`` or ``test.tar`` (each possibly ``.tar.gz``),
    members ``class/image``, read in place (never extracted);
(e) anything else is a "tree": a single folder of class folders (training holds out a fixed
    seeded, stratified 10 % as ``val``), or, for evaluation, a flat folder of images.

Labels follow the sorted class folder names of the train part, as torchvision's ImageFolder;
a ``classes.tsv`` beside the data (``index<TAB>folder[<TAB>name]``) supplies display names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import ImageDataset
from .embedded import open_embedded
from .image_sources import (
    ConcatSource,
    FileSource,
    TarSource,
    class_folders,
    index_tar,
    list_image_folder,
    tar_class_members,
)
from .imagenet_val import VAL_ARCHIVE
from .splits import held_out

SPLITS = ("train", "val")
PARTS = ("train", "val", "all")
FORMS = ("a folder with train/ and val/ (or test/) class folders; a single folder of class "
         "folders (10 % held out as val); a folder with train.tar and val.tar or test.tar "
         "(.tar or .tar.gz, members class/image); or \"embedded\"")
TAR_ENDINGS = (".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class Layout:
    """What a DATA argument is: ``kind`` (embedded, split folders, val archive, tars, tree),
    its ``root`` folder and its ``parts`` (``"train"``/``"val"``: the folders or tars)."""

    kind: str
    root: Path
    parts: dict[str, Path] = field(default_factory=dict)


def detect_layout(data: str | Path, forms: str = FORMS) -> Layout:
    """The layout of ``data`` (module docstring); ``forms`` lists the accepted forms in the
    messages of the errors (a missing path, a file that is no tar, train/ without val/)."""
    if str(data) == "embedded":
        return Layout("embedded", Path("embedded"))
    root = Path(data)
    if not root.exists():
        raise FileNotFoundError(f"data {root} does not exist; accepted: {forms}")
    if root.is_file():
        if not root.name.endswith(TAR_ENDINGS):
            raise ValueError(f"data {root} is a file, neither a folder nor a tar of validation "
                             f"images; accepted: {forms}")
        return Layout("val archive", root.parent, {"val": root})
    val = _first_existing([root / "val", root / "test"], Path.is_dir)
    if (root / "train").is_dir() and val is not None:
        return Layout("split folders", root, {"train": root / "train", "val": val})
    if (root / VAL_ARCHIVE).is_file():
        return Layout("val archive", root, {"val": root / VAL_ARCHIVE})
    if (root / "train").is_dir():
        raise ValueError(f"{root} has train/ but neither val/ nor test/; add one, or point to "
                         f"{root / 'train'} (a single class-folder tree)")
    tars = _find_tars(root)
    return Layout("tree", root) if tars is None else Layout("tars", root, tars)


def open_dataset(data: str | Path, split: str, *, seed: int = 0) -> ImageDataset:
    """The ``split`` ("train" or "val") of ``data``, in any accepted form (module docstring).

    ``seed`` chooses the held-out 10 % of a single ImageFolder or of the digits fallback.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    layout = detect_layout(data)
    if layout.kind == "val archive":
        raise ValueError(f"{layout.parts['val']} is a validation set (evaluate only); "
                         f"accepted for training: {FORMS}")
    if layout.kind == "tree" and not class_folders(layout.root):
        raise ValueError(f"{layout.root} is not a dataset in an accepted form (no class "
                         f"folders, no train.tar); accepted: {FORMS}")
    return open_layout(layout, split, seed)[0]


def open_layout(layout: Layout, part: str, seed: int = 0) -> tuple[ImageDataset, int]:
    """``(dataset, images found)``: the ``part`` ("train", "val" or "all") of an embedded,
    split-folder, tar or class-folder-tree layout, and how many images the parts it read
    hold (a tree: all of them, whichever part is kept)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    if layout.kind == "embedded":
        if part == "all":
            raise ValueError("the embedded dataset is read as a train or a val part; use "
                             "--split val or --split train")
        source, labels, classes = open_embedded(part, seed)
        dataset = ImageDataset(source, labels, classes, root="embedded")
        return dataset, len(dataset)
    if layout.kind == "split folders":
        return _open_split_folders(layout, part)
    if layout.kind == "tars":
        return _open_tars(layout, part)
    if layout.kind == "tree":
        return _open_tree(layout.root, part, seed)
    raise ValueError(f"{layout.root}: a {layout.kind} has no class folders to open")


def _open_split_folders(layout: Layout, part: str) -> tuple[ImageDataset, int]:
    train, val = layout.parts["train"], layout.parts["val"]
    parts = {"val": [val], "train": [train], "all": [train, val]}[part]
    folders = class_folders(train)
    labels, paths = [], []
    for folder in parts:
        got, members = _label_members(folder, folders, list_image_folder(folder))
        labels += got
        paths += [f"{folder.name}/{m}" for m in members]
    dataset = ImageDataset(FileSource(layout.root, paths), labels,
                           _display_names(layout.root, folders),
                           root=str(parts[0] if len(parts) == 1 else layout.root))
    return dataset, len(paths)


def _open_tree(root: Path, part: str, seed: int) -> tuple[ImageDataset, int]:
    found = list_image_folder(root)
    folders = sorted(found)
    labels, paths = _label_members(root, folders, found)
    keep = list(range(len(paths)))
    if part != "all":
        is_val = held_out(paths, labels, seed)
        keep = [i for i, v in enumerate(is_val) if v == (part == "val")]
    dataset = ImageDataset(FileSource(root, [paths[i] for i in keep]), [labels[i] for i in keep],
                           _display_names(root, folders), root=str(root))
    return dataset, len(paths)


def _open_tars(layout: Layout, part: str) -> tuple[ImageDataset, int]:
    if part == "all":
        train, val = _open_tar(layout, "train"), _open_tar(layout, "val")
        dataset = ImageDataset(ConcatSource([train.source, val.source]),
                               train.labels + val.labels, train.classes, root=str(layout.root))
    else:
        dataset = _open_tar(layout, part)
    return dataset, len(dataset)


def _open_tar(layout: Layout, split: str) -> ImageDataset:
    tars = layout.parts
    buffer, entries = index_tar(tars[split])
    members = tar_class_members(tars[split], entries)
    if split == "train":
        folders = _TAR_FOLDERS[_file_key(tars["train"])] = sorted({c for c, _ in members})
    else:
        folders = _tar_folders(tars["train"])
    found: dict[str, list[int]] = {}
    for c, k in members:
        found.setdefault(c, []).append(k)
    labels, keep = _label_members(tars[split], folders, found)
    source = TarSource(tars[split], buffer, [entries[k] for k in keep])
    return ImageDataset(source, labels, _display_names(layout.root, folders),
                        root=str(tars[split]))


def _label_members(where: Path, folders: list[str], found: dict[str, list]
                   ) -> tuple[list[int], list]:
    """Labels (index of the class folder in ``folders``) and members, in class order."""
    index = {c: k for k, c in enumerate(folders)}
    unknown = sorted(set(found) - set(index))
    if unknown:
        raise ValueError(f"{where}: class folder(s) {', '.join(unknown)} are not in the train "
                         "part; every class must have training images")
    pairs = [(index[c], p) for c in sorted(found) for p in found[c]]
    return [label for label, _ in pairs], [p for _, p in pairs]


def _find_tars(root: Path) -> dict[str, Path] | None:
    names = {stem: _first_existing([root / f"{stem}{ext}" for ext in TAR_ENDINGS],
                                   Path.is_file)
             for stem in ("train", "val", "test")}
    if names["train"] is None:
        return None
    val = names["val"] or names["test"]
    if val is None:
        raise ValueError(f"{root} has {names['train'].name} but no val.tar or test.tar "
                         "(.tar or .tar.gz); add one")
    return {"train": names["train"], "val": val}


# Sorted class folders per tar version: opening val needs the train tar's classes.
_TAR_FOLDERS: dict[tuple, list[str]] = {}


def _file_key(path: Path) -> tuple:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def _tar_folders(path: Path) -> list[str]:
    key = _file_key(path)
    if key not in _TAR_FOLDERS:
        _TAR_FOLDERS[key] = sorted({c for c, _ in tar_class_members(path, index_tar(path)[1])})
    return _TAR_FOLDERS[key]


def _display_names(root: Path, folders: list[str]) -> list[str]:
    """Names from ``root/classes.tsv`` (``index<TAB>folder[<TAB>name]``); folder names else."""
    tsv = root / "classes.tsv"
    if not tsv.is_file():
        return list(folders)
    names = {}
    for n, line in enumerate(tsv.read_text(encoding="utf-8").splitlines(), 1):
        cells = line.rstrip("\r").split("\t")
        if not line.strip():
            continue
        if len(cells) not in (2, 3):
            raise ValueError(f"{tsv}:{n}: expected index<TAB>folder[<TAB>name], got {line!r}")
        names[cells[1]] = cells[-1]
    return [names.get(f, f) for f in folders]


def _first_existing(paths: list[Path], test: Callable[[Path], bool]) -> Path | None:
    return next((p for p in paths if test(p)), None)
