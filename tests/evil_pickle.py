"""A pickle payload that would run a shell command when unpickled: what the safe-loading
tests feed to every reader to show that none of them ever unpickles code."""

from __future__ import annotations

import os
from pathlib import Path


class RunsCommand:
    """Unpickling this touches ``marker`` (if a reader ever executed it)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)
