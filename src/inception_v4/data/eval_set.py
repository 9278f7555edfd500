"""``open_eval_dataset``: the evaluation set a DATA argument names, with every image in it.

``open_dataset(data, "val")`` serves training (a single class-folder tree gives the seeded
10 % it holds out); evaluation instead takes the folder it is given as the set to evaluate:

=================  ============================================================================
layout             what is evaluated (``split="auto"``)
=================  ============================================================================
class folders      a folder of class folders (``val/n01440764/ILSVRC2012_val_00000293.JPEG``):
                   every image
train/ + val/      a folder with ``train/`` and ``val/`` (or ``test/``) class folders: ``val/``
train.tar + val    a folder with ``train.tar`` and ``val.tar``/``test.tar``: the val tar
flat + labels      a folder of images (``ILSVRC2012_val_%08d.JPEG``) and a labels file
                   (``labels``: Caffe's val.txt, the devkit's ground truth, the devkit folder
                   or archive; the devkit inside the folder when no ``labels``): every image
ILSVRC-2012 tars   ``ILSVRC2012_img_val.tar`` (the folder holding it, or the tar itself), read
                   in place, labelled by ``ILSVRC2012_devkit_t12.tar.gz`` beside it (or
                   ``labels``): every image
embedded           the embedded set's val part
=================  ============================================================================

``split`` overrides: ``"val"`` (the val part; of a single class-folder tree, the 10 % hold-out
training uses), ``"train"`` (the train part; of a single tree, the other 90 %), ``"all"``
(every image, train and val parts together). A flat or ILSVRC-archive set is a validation set:
every image for ``auto``, ``val`` and ``all``.

Labels follow the sorted class folders (of ``train/`` when there is one), or the sorted wnids
for ILSVRC labels files (:mod:`.imagenet_val`); 1001-class (TF-slim) weights keep index 0 as
background, which evaluation drops.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

from .dataset import ImageDataset
from .forms import Layout, detect_layout, open_layout
from .image_sources import FileSource, TarSource, class_folders, index_tar, is_image_name
from .imagenet_val import (
    LABEL_FORMS,
    VAL_ARCHIVE,
    ValLabels,
    find_devkit,
    imagenet_classes,
    read_labels,
)

log = logging.getLogger(__name__)

EVAL_SPLITS = ("auto", "val", "train", "all")
EVAL_FORMS = ("a folder of class folders (every image); a folder with train/ and val/ (or "
              "test/) class folders, or train.tar and val.tar (its val part); a flat folder of "
              f"ILSVRC2012_val_%08d.JPEG images with --labels; {VAL_ARCHIVE} with "
              "ILSVRC2012_devkit_t12.tar.gz beside it; or \"embedded\"")


def open_eval_dataset(data: str | Path, split: str = "auto", labels: str | Path | None = None,
                      *, num_classes: int | None = None, seed: int = 0,
                      ) -> tuple[ImageDataset, dict[str, Any]]:
    """``(dataset, info)``: the evaluation set of ``data`` (module docstring).

    ``labels``: a labels file for a flat set or ``ILSVRC2012_img_val.tar`` (:mod:`.imagenet_val`
    lists the forms). ``num_classes``: how many classes a labels file that names none (Caffe's
    val.txt alone) indexes, normally the model's (default: the largest label + 1).
    ``seed``: the hold-out of a single tree for ``split="val"``/``"train"``.
    ``info``: ``layout``, ``split`` (the part evaluated: ``val``, ``train`` or ``all``),
    ``images_found`` (images in the part(s) of ``data`` read: the whole tree for a single
    class-folder tree) and ``labels`` (the labels file read, or None).
    """
    if split not in EVAL_SPLITS:
        raise ValueError(f"split must be one of {', '.join(EVAL_SPLITS)}, not {split!r}")
    layout = detect_layout(data, EVAL_FORMS)
    if layout.kind == "val archive":
        return _val_archive(layout.parts["val"], split, labels, num_classes)
    if layout.kind == "embedded":
        if labels is not None:
            raise ValueError("--labels does not apply to the embedded dataset")
        return _part(layout, "val" if split == "auto" else split, seed, "embedded")
    if layout.kind == "split folders":
        _no_labels(layout.root, labels, "its class folders")
        return _part(layout, "val" if split == "auto" else split, seed,
                     f"train/ + {layout.parts['val'].name}/ class folders")
    if layout.kind == "tars":
        _no_labels(layout.root, labels, "the class folders of its tars")
        return _part(layout, "val" if split == "auto" else split, seed,
                     f"{layout.parts['train'].name} + {layout.parts['val'].name}")
    return _tree(layout, split, labels, num_classes, seed)


def _part(layout: Layout, part: str, seed: int, name: str
          ) -> tuple[ImageDataset, dict[str, Any]]:
    dataset, found = open_layout(layout, part, seed)
    return dataset, _info(name, part, found)


def _tree(layout: Layout, split: str, labels: str | Path | None, num_classes: int | None,
          seed: int) -> tuple[ImageDataset, dict[str, Any]]:
    """A folder of class folders (every image), or of images with a labels file."""
    root = layout.root
    flat = _flat_images(root)
    trees = any(_has_images(root / c) for c in class_folders(root))
    if flat and (labels is not None or not trees):
        return _flat_folder(root, flat, split, labels, num_classes)
    if labels is not None:
        if trees:
            _no_labels(root, labels, "its class folders")
        raise ValueError(f"--labels labels a flat folder of images or {VAL_ARCHIVE}, but "
                         f"{root} holds no image files beside its subfolders; accepted: "
                         f"{EVAL_FORMS}")
    if not class_folders(root):
        raise ValueError(f"{root} is not an evaluation set in an accepted form (no class "
                         f"folders, no images, no train.tar, no {VAL_ARCHIVE}); accepted: "
                         f"{EVAL_FORMS}")
    if flat:
        log.warning("%s: %d image(s) beside the class folders belong to no class and are not "
                    "evaluated (give --labels FILE to evaluate them as a flat set instead)",
                    root, len(flat))
    part = "all" if split == "auto" else split
    dataset, found = open_layout(layout, part, seed)
    if not len(dataset):
        raise ValueError(f"the {part} part of {root} (a single class-folder tree, 10 % held "
                         f"out as val) is empty; evaluate every image with --split all")
    held = "class folders" if part == "all" else "class folders (seeded 10 % held out as val)"
    return dataset, _info(held, part, found)


def _info(layout: str, split: str, found: int, labels: str | None = None) -> dict[str, Any]:
    return {"layout": layout, "split": split, "images_found": found, "labels": labels}


def _no_labels(root: Path, labels: str | Path | None, what: str) -> None:
    if labels is not None:
        raise ValueError(f"--labels {labels}: {root} is labelled by {what}; --labels is for a "
                         f"flat folder of images or {VAL_ARCHIVE}. Drop --labels")


def _flat_images(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_file() and is_image_name(e.name))


def _has_images(folder: Path) -> bool:
    return any(is_image_name(f) for _, _, files in os.walk(folder, followlinks=True)
               for f in files)


def _validation_set_split(root: Path, split: str) -> str:
    if split == "train":
        raise ValueError(f"{root} is a validation set (flat images with labels); it has no "
                         "train part: use --split auto")
    return "all"


def _resolve_labels(where: Path, labels: str | Path | None) -> ValLabels:
    if labels is None:
        devkit = find_devkit(where)
        if devkit is None:
            raise ValueError(f"{where} holds images but no class folders and no labels: pass "
                             f"--labels FILE ({LABEL_FORMS}), put the devkit beside the images, "
                             f"or sort the images into class folders")
        labels = devkit
    return read_labels(labels)


def _flat_folder(root: Path, flat: list[str], split: str, labels: str | Path | None,
                 num_classes: int | None) -> tuple[ImageDataset, dict[str, Any]]:
    part = _validation_set_split(root, split)
    found = _resolve_labels(root, labels)
    order, targets, classes = _labelled(flat, found, num_classes)
    dataset = ImageDataset(FileSource(root, [flat[i] for i in order]), targets, classes,
                           root=str(root))
    dataset.wnids = found.wnids  # the classes' wnids when the labels name them (class check)
    return dataset, _info(f"flat folder + {found.form}", part, len(flat), found.source)


def _val_archive(tar: Path, split: str, labels: str | Path | None, num_classes: int | None
                 ) -> tuple[ImageDataset, dict[str, Any]]:
    part = _validation_set_split(tar, split)
    found = _resolve_labels(tar.parent, labels)
    buffer, entries = index_tar(tar)
    images = [e for e in entries if is_image_name(e[0])]
    if not images:
        raise ValueError(f"no images in {tar}: no member has an image extension")
    order, targets, classes = _labelled([e[0] for e in images], found, num_classes)
    dataset = ImageDataset(TarSource(tar, buffer, [images[i] for i in order]), targets, classes,
                           root=str(tar))
    dataset.wnids = found.wnids
    return dataset, _info(f"{tar.name} + {found.form}", part, len(images), found.source)


def _labelled(names: list[str], found: ValLabels, num_classes: int | None
              ) -> tuple[list[int], list[int], list[str]]:
    """``(order, labels in that order, class names)``: images sorted by (label, file name),
    the order of a class-folder tree of the same images."""
    labels = found.assign(names)
    classes = found.classes
    if classes is None:
        count = num_classes or max(labels) + 1
        if max(labels) >= count:
            worst = max(range(len(labels)), key=labels.__getitem__)
            raise ValueError(f"{found.source}: {names[worst]} has label {labels[worst]}, but the "
                             f"model predicts {count} classes (sorted-wnid order): the labels "
                             f"and the model's classes do not match")
        classes = _unnamed_classes(count)
    order = sorted(range(len(names)), key=lambda i: (labels[i], PurePosixPath(names[i]).name))
    return order, [labels[i] for i in order], classes


def _unnamed_classes(count: int) -> list[str]:
    """ImageNet's names (sorted-wnid order) for 1000 classes; ``class k`` otherwise."""
    names = imagenet_classes(count) if count == 1000 else None
    return names or [f"class {k}" for k in range(count)]
