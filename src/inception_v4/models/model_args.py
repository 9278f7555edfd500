"""A network's constructor arguments: the one record of them (:class:`ModelArgs`).

``build_network`` and ``create_model`` take these as keywords, a model remembers them as
``init_args`` (saved in our ``config.json``), a training config carries those it can set,
a training checkpoint is rebuilt from them, and what must match on resume is derived from
:data:`ARCHITECTURE`. A new argument is added here once; tests check that the keyword
signatures and ``TrainConfig`` agree with this record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# drop_rate is a regulariser: the network's parameters and its eval-mode function do not
# depend on it, so a resumed or fine-tuned run may change it; every other field may not.
_REGULARISER = {"regulariser": True}


@dataclass(frozen=True)
class ModelArgs:
    """``build_network``'s keywords after the name, checked (see its docstring)."""

    num_classes: int | None = None    # None: the table's (1000; 128 for FaceNet)
    in_chans: int = 3
    drop_rate: float = field(default=0.2, metadata=_REGULARISER)
    aux_logits: bool = False
    width: float = 1.0
    depth: float = 1.0
    residual_scale: float | None = None
    residual: bool = True
    global_pool: str = "avg"

    def __post_init__(self) -> None:
        _check_ints(self.num_classes, self.in_chans)
        _check_numbers(drop_rate=self.drop_rate, width=self.width, depth=self.depth,
                       residual_scale=self.residual_scale)
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {self.drop_rate!r}")

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> ModelArgs:
        """The record from those of ``values``' keys that are fields (a training config,
        a saved ``init_args``); the others are ignored."""
        return cls(**{k: values[k] for k in NAMES if k in values})

    def as_dict(self) -> dict[str, Any]:
        """Field → value, in field order (what a model's ``init_args`` holds)."""
        return asdict(self)


NAMES: tuple[str, ...] = tuple(f.name for f in fields(ModelArgs))
# The fields that fix a network's parameters or what it computes (all but regularisers).
ARCHITECTURE: tuple[str, ...] = tuple(f.name for f in fields(ModelArgs)
                                      if not f.metadata.get("regulariser"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_ints(num_classes: int | None, in_chans: int) -> None:
    if num_classes is not None and (not _is_int(num_classes) or num_classes < 0):
        raise ValueError(f"num_classes must be a non-negative int, got {num_classes!r}")
    if not _is_int(in_chans) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int, got {in_chans!r}")


def _check_numbers(**values: float | None) -> None:
    """drop_rate a number; width and depth finite numbers > 0; residual_scale None or a
    finite number >= 0."""
    for key, value in values.items():
        if value is None and key == "residual_scale":
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            kind = "a number in [0, 1)" if key == "drop_rate" else "a number"
            raise TypeError(f"{key} must be {kind}, got {value!r}")
        if key == "drop_rate":
            continue
        low_ok = value >= 0 if key == "residual_scale" else value > 0
        if not (math.isfinite(value) and low_ok):
            bound = ">= 0" if key == "residual_scale" else "> 0"
            raise ValueError(f"{key} must be a finite number {bound}, got {value!r}")
