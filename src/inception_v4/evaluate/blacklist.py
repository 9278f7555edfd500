"""The ILSVRC-2014 validation blacklist: which samples of a dataset it excludes.

File format (``ILSVRC2014_clsloc_validation_blacklist.txt`` of the ILSVRC-2014 devkit): one
1-based validation image index per line (1,762 lines); blank lines and ``#`` comments are
ignored. A sample is matched to an index by its name, in every layout (class folders, a flat
folder, ``ILSVRC2012_img_val.tar``): a name containing ``ILSVRC2012_val_%08d`` is validation
image ``%d``.

A set in which *no* name carries an index (renamed files) cannot be matched: combined with a
blacklist it is an error, never a guess by position. When some samples carry
``ILSVRC2012_val_`` names and others do not (a subset such as Imagenette mixes them), the
others are not ILSVRC validation images and are never excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.imagenet_val import validation_index


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
    """The 1-based ILSVRC validation index each sample name carries (``None``: none)."""
    return [validation_index(n) for n in names]


def blacklist_mask(names: Sequence[str], blacklist: set[int]) -> torch.Tensor:
    """Bool per sample: ``True`` when the blacklist excludes it. A ValueError when no name
    carries an ``ILSVRC2012_val_%08d`` index (nothing to match the blacklist by)."""
    index = validation_indices(names)
    if names and all(i is None for i in index):
        raise ValueError(
            f"the blacklist names validation images by the 1-based index in their file names "
            f"(ILSVRC2012_val_%08d), but none of the {len(names)} image(s) carries one (e.g. "
            f"{names[0]}); evaluate the files under their original names, or drop --blacklist")
    return torch.tensor([i is not None and i in blacklist for i in index], dtype=torch.bool)
