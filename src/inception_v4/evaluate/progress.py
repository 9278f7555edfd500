"""Progress bars for long work (evaluation, prediction, training's evaluations, bench): tqdm
on a terminal, nothing when stderr is not one (logs, pipes, CI) or under ``--quiet``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, unit: str, *, quiet: bool = False,
             total: int | None = None) -> Iterable[T]:
    """``items`` wrapped in a tqdm bar on stderr when it is a terminal and not ``quiet``;
    the bar goes away when done (the results printed after it stay readable)."""
    if quiet or not sys.stderr.isatty():
        return items
    return tqdm(items, desc=desc, unit=unit, total=total, dynamic_ncols=True, leave=False,
                file=sys.stderr)
