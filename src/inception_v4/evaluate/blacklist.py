"""The ILSVRC-2014 validation blacklist: which samples of a dataset it excludes.

File format (``ILSVRC2014_clsloc_validation_blacklist.txt`` of the ILSVRC-2014 devkit): one
1-based validation image index per line (1,762 lines); blank lines and ``#`` comments are
ignored. A sample is matched to an index by

1. its name: a name containing ``ILSVRC2012_val_%08d`` is validation image ``%d``;
2. otherwise, when *no* sample is named that way, its 1-based position among the samples
   sorted by file name (a validation set whose files were renamed but keep the original order).

When some samples carry ``ILSVRC2012_val_`` names and others do not (a subset such as
Imagenette mixes them), the others are not ILSVRC validation images and are never excluded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import torch

_VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})")


def read_blacklist(path: str | Path) -> set[int]:
    """The 1-based validation indices listed in ``path``, one per line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"blacklist file {path} not found (expected one 1-based "
                                f"validation image index per line)")
    indices = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{path}:{number}: {line.strip()!r} is not a 1-based image index; "
                             f"a blacklist holds one positive integer per line")
        indices.add(int(text))
    return indices


def validation_indices(names: Sequence[str]) -> list[int | None]:
    """The 1-based ILSVRC validation index of each sample name (``None``: not one of them)."""
    found = [_VAL_NAME.search(n) for n in names]
    if any(found):
        return [int(m.group(1)) if m else None for m in found]
    order = sorted(range(len(names)), key=lambda i: (PurePosixPath(names[i]).name, names[i]))
    index: list[int | None] = [None] * len(names)
    for position, i in enumerate(order, start=1):
        index[i] = position
    return index


def blacklist_mask(names: Sequence[str], blacklist: set[int]) -> torch.Tensor:
    """Bool per sample: ``True`` when the blacklist excludes it."""
    return torch.tensor([i is not None and i in blacklist for i in validation_indices(names)],
                        dtype=torch.bool)
