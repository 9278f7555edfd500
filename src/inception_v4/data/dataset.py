"""``open_dataset``: every accepted DATA form → one ``ImageDataset``.

Accepted forms of ``data``:

(a) a folder with ``train/`` and ``val/`` (or ``test/``) ImageFolders (``class/image``);
(b) a single ImageFolder: a fixed seeded, stratified 10 % is held out as ``val``;
(c) a folder with ``train.tar`` and ``val.tar`` or ``test.tar`` (each possibly ``.tar.gz``),
    members ``class/image``, read in place (never extracted);
(d) ``"embedded"``: Fashion-MNIST (Debian ``dataset-fashion-mnist``), else scikit-learn digits.

Labels follow the sorted class folder names of the train part, as torchvision's ImageFolder;
a ``classes.tsv`` beside the data (``index<TAB>folder[<TAB>name]``) supplies display names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from .embedded import open_embedded
from .images import MAX_PIXELS, BadImageError, decode_image
from .sources import (
    FileSource,
    TarSource,
    class_folders,
    index_tar,
    list_image_folder,
    tar_class_members,
)
from .splits import held_out

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
FORMS = ("a folder with train/ and val/ (or test/) class folders; a single folder of class "
         "folders (10 % held out as val); a folder with train.tar and val.tar or test.tar "
         "(.tar or .tar.gz, members class/image); or \"embedded\"")


class ImageDataset(torch.utils.data.Dataset):
    """Images with integer labels from any source (see ``sources``).

    ``transform``: PIL → tensor; None gives the image at its own size scaled to [-1, 1].
    ``skip_bad`` (default True): ``dataset[i]`` is None for an unreadable image (logged), and
    the loader's collate drops and counts it; False raises ``BadImageError``.
    ``max_pixels``: larger images are refused as decompression bombs.
    """

    def __init__(self, source, labels: list[int], classes: list[str],  # noqa: ANN001
                 transform: Callable | None = None, root: str = "") -> None:
        if len(source) != len(labels):
            raise ValueError(f"{len(source)} images but {len(labels)} labels")
        self.source, self.labels, self.classes = source, list(labels), list(classes)
        self.transform, self.root = transform, root
        self.skip_bad, self.max_pixels = True, MAX_PIXELS

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, i: int) -> int:
        return self.labels[i]

    def name(self, i: int) -> str:
        return self.source.name(i)

    def load(self, i: int, draft_size: int | None = None) -> Image.Image:
        """Image ``i`` as upright RGB; ``BadImageError`` naming the file when unreadable.

        ``draft_size``: JPEGs may be decoded at 1/2-1/8 scale while both sides stay >= it.
        """
        name = self.source.name(i)
        try:
            data = self.source.read(i)
        except OSError as err:
            raise BadImageError(f"{name}: cannot read ({err})") from err
        return decode_image(data, name, draft_size=draft_size, max_pixels=self.max_pixels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | None:
        draft = getattr(self.transform, "draft_size", None)
        try:
            image = self.load(i, draft_size=draft)
        except BadImageError as err:
            if not self.skip_bad:
                raise
            log.warning("skipped bad image: %s", err)
            return None
        if self.transform is None:
            return pil_to_tensor(image).float().div_(127.5).sub_(1.0), self.labels[i]
        return self.transform(image), self.labels[i]

    def __repr__(self) -> str:
        return (f"ImageDataset({self.root!r}, {len(self)} images, {self.num_classes} classes, "
                f"transform={self.transform!r})")


def open_dataset(data: str | Path, split: str, *, seed: int = 0) -> ImageDataset:
    """The ``split`` ("train" or "val") of ``data``, in any accepted form (module docstring).

    ``seed`` chooses the held-out 10 % of a single ImageFolder or of the digits fallback.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    if str(data) == "embedded":
        source, labels, classes = open_embedded(split, seed)
        return ImageDataset(source, labels, classes, root="embedded")
    root = Path(data)
    if not root.exists():
        raise FileNotFoundError(f"data {root} does not exist; accepted: {FORMS}")
    if not root.is_dir():
        raise ValueError(f"data {root} is not a folder; accepted: {FORMS}")
    if (root / "train").is_dir():
        return _open_split_folders(root, split)
    tars = _find_tars(root)
    if tars is not None:
        return _open_tars(root, tars, split)
    if not class_folders(root):
        raise ValueError(f"{root} is not a dataset in an accepted form (no class folders, no "
                         f"train.tar); accepted: {FORMS}")
    return _open_single_folder(root, split, seed)


def _open_split_folders(root: Path, split: str) -> ImageDataset:
    val = _first_existing([root / "val", root / "test"], Path.is_dir)
    if val is None:
        raise ValueError(f"{root} has train/ but neither val/ nor test/; add one, or point to "
                         f"{root / 'train'} to hold out 10 % of it as val")
    folder = root / "train" if split == "train" else val
    found = list_image_folder(folder)
    folders = class_folders(root / "train")
    labels, paths = _label_members(folder, folders, found)
    return ImageDataset(FileSource(folder, paths), labels, _display_names(root, folders),
                        root=str(folder))


def _open_single_folder(root: Path, split: str, seed: int) -> ImageDataset:
    found = list_image_folder(root)
    folders = sorted(found)
    labels, paths = _label_members(root, folders, found)
    is_val = held_out(paths, labels, seed)
    keep = [i for i, v in enumerate(is_val) if v == (split == "val")]
    source = FileSource(root, [paths[i] for i in keep])
    return ImageDataset(source, [labels[i] for i in keep], _display_names(root, folders),
                        root=str(root))


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
    names = {stem: _first_existing([root / f"{stem}{ext}" for ext in (".tar", ".tar.gz", ".tgz")],
                                   Path.is_file)
             for stem in ("train", "val", "test")}
    if names["train"] is None:
        return None
    val = names["val"] or names["test"]
    if val is None:
        raise ValueError(f"{root} has {names['train'].name} but no val.tar or test.tar "
                         "(.tar or .tar.gz); add one")
    return {"train": names["train"], "val": val}


def _open_tars(root: Path, tars: dict[str, Path], split: str) -> ImageDataset:
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
    return ImageDataset(source, labels, _display_names(root, folders), root=str(tars[split]))


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
