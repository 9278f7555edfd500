"""ILSVRC-2012 validation labels in the forms they are distributed.

A flat set of ``ILSVRC2012_val_%08d.JPEG`` images (a folder, or ``ILSVRC2012_img_val.tar``)
carries no labels; they come from one of

* Caffe's ``val.txt``: ``ILSVRC2012_val_00000001.JPEG 65`` per line, labels indexing the
  sorted wnids; a ``synsets.txt`` (one wnid per line) or ``synset_words.txt`` (``wnid words``)
  beside it names the classes (Caffe's ``caffe_ilsvrc12.tar.gz`` ships all three);
* the devkit's ``ILSVRC2012_validation_ground_truth.txt``: line n holds the ILSVRC2012_ID of
  validation image n, mapped to its wnid through the devkit's ``meta.mat``; given as that file
  (``meta.mat`` beside it), the devkit folder ``ILSVRC2012_devkit_t12`` or its archive
  ``ILSVRC2012_devkit_t12.tar.gz`` (read without extracting).

Class indices follow the sorted wnids (the order of timm, torchvision and Keras, and of a
class-folder tree of the same images). ``meta.mat`` is read as torchvision's ImageNet reads it
(its leaf synsets, ``num_children == 0``) with ``scipy.io.loadmat``: torchvision's own parser
is private to ``parse_devkit_archive``, which insists on the official archive's MD5 and writes
``meta.bin`` beside it.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})")
VAL_ARCHIVE = "ILSVRC2012_img_val.tar"
DEVKIT_ARCHIVE = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT_FOLDER = "ILSVRC2012_devkit_t12"
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
META = "meta.mat"
LABEL_FORMS = ("Caffe's val.txt (filename label), the devkit's " + GROUND_TRUTH + " (with " +
               META + " beside it), the devkit folder " + DEVKIT_FOLDER + " or " + DEVKIT_ARCHIVE)


class MissingDependency(ImportError, ValueError):
    """An optional package is needed; the message says what to install."""


def validation_index(name: str) -> int | None:
    """The 1-based ILSVRC validation index a name carries (``ILSVRC2012_val_%08d``), or None."""
    found = VAL_NAME.search(name)
    return int(found.group(1)) if found else None


@dataclass
class ValLabels:
    """Labels of validation images, by file name (val.txt) or by index (devkit).

    ``classes``: display names in label order, or None when the labels file names no classes
    (Caffe's val.txt alone); ``wnids`` likewise.
    """

    source: str
    kind: str  # "val.txt" or "devkit"
    by_name: dict[str, int] | None = None
    by_index: list[int] | None = None
    classes: list[str] | None = None
    wnids: list[str] | None = None

    @property
    def form(self) -> str:
        return "Caffe val.txt" if self.kind == "val.txt" else "devkit ground truth"

    def assign(self, names: list[str]) -> list[int]:
        """The label of each image name (any path; its base name counts); a ValueError naming
        the images that have none."""
        labels, missing = [], []
        for name in names:
            label = self._label(PurePosixPath(name).name)
            labels.append(-1 if label is None else label)
            if label is None:
                missing.append(name)
        if not missing:
            return labels
        shown = ", ".join(missing[:5]) + (f", ... ({len(missing)} in all)"
                                          if len(missing) > 5 else "")
        if self.kind == "devkit":
            unnumbered = [n for n in missing if validation_index(n) is None]
            if unnumbered:
                raise ValueError(
                    f"{len(unnumbered)} image(s) carry no ILSVRC2012_val_%08d index in their "
                    f"name, which the devkit's ground truth ({self.source}) labels by: "
                    f"{', '.join(unnumbered[:5])}; keep the original file names, or give "
                    f"--labels a val.txt (filename label per line) that lists them")
            raise ValueError(f"{len(missing)} image(s) have an index beyond the "
                             f"{len(self.by_index or [])} lines of {self.source}: {shown}; "
                             f"use the full ground truth file")
        raise ValueError(f"{len(missing)} image(s) have no line in {self.source}: {shown}; the "
                         f"labels file must list every image (add them, or remove the images)")

    def _label(self, base: str) -> int | None:
        if self.by_name is not None:
            return self.by_name.get(base)
        index = validation_index(base)
        if index is None or not 1 <= index <= len(self.by_index or []):
            return None
        return self.by_index[index - 1]


def read_labels(path: str | Path) -> ValLabels:
    """Validation labels from ``path`` in any form of the module docstring."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"labels {path} not found; --labels takes {LABEL_FORMS}")
    if path.is_dir():
        return _devkit_folder(path)
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return _devkit_archive(path)
    rows = _rows(path)
    if all(len(cells) == 1 for _, cells in rows):
        meta = path.parent / META
        if not meta.is_file():
            raise FileNotFoundError(
                f"{path} holds one ILSVRC2012_ID per line (the devkit's ground truth), which "
                f"needs the devkit's {META} beside it to map IDs to wnids; not found at {meta}. "
                f"Pass the devkit folder or {DEVKIT_ARCHIVE} as --labels instead")
        return devkit_labels(str(path), _ids(path, rows), meta.read_bytes(), str(meta))
    return _caffe(path, rows)


def find_devkit(folder: Path) -> Path | None:
    """The devkit archive or folder inside ``folder`` (for a flat set with no --labels)."""
    for candidate in (folder / DEVKIT_ARCHIVE, folder / DEVKIT_FOLDER):
        if candidate.exists():
            return candidate
    return None


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise ValueError(f"{path} is empty; --labels takes {LABEL_FORMS}")
    return rows


def _ids(where: str | Path, rows: list[tuple[int, list[str]]]) -> list[int]:
    ids = []
    for n, cells in rows:
        if len(cells) != 1 or not cells[0].isdigit():
            raise ValueError(f"{where}:{n}: {' '.join(cells)!r} is not an ILSVRC2012_ID; the "
                             "devkit's ground truth holds one positive integer per line")
        ids.append(int(cells[0]))
    return ids


def _caffe(path: Path, rows: list[tuple[int, list[str]]]) -> ValLabels:
    by_name: dict[str, int] = {}
    for n, cells in rows:
        if len(cells) != 2 or not cells[1].isdigit():
            raise ValueError(f"{path}:{n}: expected 'filename label' (Caffe's val.txt: "
                             f"ILSVRC2012_val_00000001.JPEG 65) or one ILSVRC2012_ID per line "
                             f"(the devkit's ground truth), got {' '.join(cells)!r}")
        name = PurePosixPath(cells[0]).name
        if by_name.get(name, int(cells[1])) != int(cells[1]):
            raise ValueError(f"{path}:{n}: {name} is listed twice with different labels")
        by_name[name] = int(cells[1])
    wnids, classes = _caffe_synsets(path.parent)
    if classes is not None and max(by_name.values()) >= len(classes):
        raise ValueError(f"{path}: label {max(by_name.values())} but the synset list beside it "
                         f"names {len(classes)} classes; they do not belong together")
    return ValLabels(str(path), "val.txt", by_name=by_name, classes=classes, wnids=wnids)


def _caffe_synsets(folder: Path) -> tuple[list[str] | None, list[str] | None]:
    """Caffe's ``synset_words.txt`` (``wnid words``) or ``synsets.txt`` (``wnid``), in label
    order; (None, None) when neither is there."""
    for name in ("synset_words.txt", "synsets.txt"):
        path = folder / name
        if path.is_file():
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
                     if ln.strip()]
            wnids = [ln.split(maxsplit=1)[0] for ln in lines]
            names = [ln.split(maxsplit=1)[1].split(",")[0].strip() if " " in ln else
                     ln.split()[0] for ln in lines]
            return wnids, names
    return None, None


def _devkit_folder(folder: Path) -> ValLabels:
    for data in (folder / "data", folder / DEVKIT_FOLDER / "data", folder):
        truth, meta = data / GROUND_TRUTH, data / META
        if truth.is_file() and meta.is_file():
            return devkit_labels(str(truth), _ids(truth, _rows(truth)), meta.read_bytes(),
                                 str(meta))
    raise FileNotFoundError(f"{folder} is not the ILSVRC-2012 devkit: no data/{GROUND_TRUTH} "
                            f"with data/{META}; --labels takes {LABEL_FORMS}")


def _devkit_archive(archive: Path) -> ValLabels:
    """Ground truth and meta.mat read from the devkit tar(.gz) in memory, nothing extracted."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in (GROUND_TRUTH, META) and base not in found:
                    found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"{archive}: cannot read the devkit archive ({err})") from err
    missing = [name for name in (GROUND_TRUTH, META) if name not in found]
    if missing:
        raise ValueError(f"{archive} holds no {' and no '.join(missing)}: it is not the "
                         f"ILSVRC-2012 devkit ({DEVKIT_ARCHIVE})")
    truth = f"{archive}:{GROUND_TRUTH}"
    lines = found[GROUND_TRUTH].decode("utf-8", errors="replace").splitlines()
    rows = [(n, line.split()) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise ValueError(f"{truth} is empty")
    return devkit_labels(truth, _ids(truth, rows), found[META], f"{archive}:{META}")


def devkit_labels(source: str, ids: list[int], meta: bytes, meta_name: str) -> ValLabels:
    """Ground-truth ILSVRC2012_IDs (validation image n at ``ids[n-1]``) → sorted-wnid labels."""
    id_to_wnid, names = parse_meta_mat(meta, meta_name)
    wnids = sorted(names)
    index = {w: k for k, w in enumerate(wnids)}
    unknown = sorted({i for i in ids if i not in id_to_wnid})
    if unknown:
        raise ValueError(f"{source}: ILSVRC2012_ID(s) {', '.join(map(str, unknown[:10]))} are "
                         f"not classes of {meta_name} ({len(wnids)} leaf synsets); the ground "
                         f"truth and meta.mat must come from the same devkit")
    return ValLabels(source, "devkit", by_index=[index[id_to_wnid[i]] for i in ids],
                     classes=[names[w] for w in wnids], wnids=wnids)


def parse_meta_mat(data: bytes, name: str = META) -> tuple[dict[int, str], dict[str, str]]:
    """``({ILSVRC2012_ID: wnid}, {wnid: first name})`` of the devkit's leaf synsets
    (``num_children == 0``), as torchvision's ``parse_meta_mat`` reads them."""
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise MissingDependency(f"reading the devkit's {META} needs scipy: pip install scipy "
                                "(or pip install 'inception-v4[imagenet]')") from err
    import numpy as np

    try:
        synsets = np.atleast_1d(loadmat(io.BytesIO(data), squeeze_me=True)["synsets"])
        leaves = [s for s in synsets if int(s["num_children"]) == 0]
        id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in leaves}
        names = {str(s["WNID"]): str(s["words"]).split(",")[0].strip() for s in leaves}
    except Exception as err:  # noqa: BLE001 - loadmat and malformed structs raise many types
        raise ValueError(f"{name}: not the ILSVRC-2012 devkit's meta.mat (a 'synsets' struct "
                         f"with ILSVRC2012_ID, WNID, words, num_children): "
                         f"{type(err).__name__}: {err}") from err
    if not id_to_wnid:
        raise ValueError(f"{name}: no leaf synset (num_children == 0), so no class")
    return id_to_wnid, names


def imagenet_classes(num_classes: int) -> list[str] | None:
    """ImageNet's class names in sorted-wnid order, read from torchvision's weights metadata
    (the one place they are read): 1000, or 1001 with "background" at index 0 (TF-slim);
    None for any other count."""
    if num_classes not in (1000, 1001):
        return None
    from torchvision.models import ResNet50_Weights  # torchvision's model zoo: imported late

    names = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    return names if num_classes == 1000 else ["background"] + names
