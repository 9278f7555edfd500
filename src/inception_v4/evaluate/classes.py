"""Do the weights' classes belong to the data's? Checked wherever weights meet a dataset:
``evaluate``, ``ensemble`` and fine-tuning (``train --pretrained``).

Scores are computed by class index, so weights trained on one class list and scored on
another give a meaningless number without any error. The weights carry their class names when
they come from a training run (a checkpoint, its run folder, or our folder converted from
one: ``pretrained_cfg["label_names"]``); the data carry theirs (folder names, or the names of
a ``classes.tsv``). ImageNet-1k weights from elsewhere (timm, Keras: 1000 classes, or 1001
with TF-slim's background) carry none; they are in sorted-wnid order, so a dataset whose
classes are wnids must be the 1000 of ILSVRC-2012 in sorted order (the ILSVRC validation
layouts are by construction). Names of two kinds, wnids on one side (folders named
``n01440764``) and words on the other (``tench``, from a ``classes.tsv`` or the devkit),
cannot be compared; like weights without names and data named ``class 0``, ``class 1``, ...
(a labels file that names no classes), they pass unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WNID = re.compile(r"n\d{8}")
SHOWN = 4  # names of each side quoted in the error


def _norm(names: Sequence[str]) -> list[str]:
    return [str(n).strip().casefold() for n in names]


def _unnamed(names: Sequence[str]) -> bool:
    return list(names) == [f"class {k}" for k in range(len(names))]


def _wnids(names: Sequence[str]) -> bool:
    return bool(names) and all(_WNID.fullmatch(str(n)) for n in names)


def _few(names: Sequence[str]) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN else ""
    return ", ".join(repr(n) for n in list(names)[:SHOWN]) + more


def class_mismatch(weights: Sequence[str] | None, num_classes: int,
                   data: Sequence[str]) -> str | None:
    """Why the weights' classes (names or None, and their count) are not the data's, or None
    when they are (or cannot be told apart)."""
    if weights and len(weights) == len(data) + 1 and _norm(weights[:1]) == ["background"]:
        weights = weights[1:]  # TF-slim's background class, dropped when scoring
    if _unnamed(data) or (weights and _unnamed(weights)):
        return None  # "class 0", "class 1", ...: a labels file that names no classes
    if weights and _wnids(weights) != _wnids(data):
        weights = None  # wnids on one side, words on the other: not comparable by name
    if weights:
        if _norm(weights) == _norm(data):
            return None
        if sorted(_norm(weights)) == sorted(_norm(data)):
            return (f"the weights and the data have the same {len(data)} classes in a "
                    f"different order (weights: {_few(weights)}; data: {_few(data)})")
        only_w = [w for w, n in zip(weights, _norm(weights), strict=True)
                  if n not in set(_norm(data))]
        only_d = [d for d, n in zip(data, _norm(data), strict=True)
                  if n not in set(_norm(weights))]
        return (f"the weights were trained on other classes than the data's: only in the "
                f"weights {_few(only_w)}; only in the data {_few(only_d)}")
    if num_classes in (1000, 1001) and _wnids(data):
        if len(data) != 1000 or list(data) != sorted(data):
            return (f"ImageNet-1k weights index the 1000 ILSVRC-2012 wnids in sorted order; "
                    f"the data's {len(data)} wnid classes ({_few(data)}) are not that list")
    return None


def check_class_names(weights: Sequence[str] | None, num_classes: int, data: Sequence[str],
                      *, by_index: bool = False, flag: str = "--by-index") -> None:
    """Raise ``ValueError`` naming a few classes of each side when the weights' classes are
    not the data's (:func:`class_mismatch`); ``by_index`` scores by class index anyway."""
    why = None if by_index else class_mismatch(weights, num_classes, data)
    if why is not None:
        raise ValueError(f"{why}; scores would compare unrelated classes. Use weights trained "
                         f"on these classes, or pass {flag} to score by class index anyway")
