"""The fixed held-out validation split of a dataset that has no validation part of its own."""

from __future__ import annotations

import hashlib

VAL_FRACTION = 0.1


def held_out(keys: list[str], labels: list[int], seed: int = 0,
             fraction: float = VAL_FRACTION) -> list[bool]:
    """``is_val`` flags: per class, the ``round(fraction * n)`` items (at least 1 when the class
    has 2 or more) whose keys hash lowest under ``seed``.

    Stratified, so every class appears in both parts in proportion. An item's hash depends only
    on ``seed`` and its own key (e.g. its path), so the split is the same on every machine and
    Python/NumPy version, and adding files to one class leaves other classes' splits unchanged.
    """
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys but {len(labels)} labels")
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    is_val = [False] * len(keys)
    for members in by_class.values():
        n_val = max(1, round(fraction * len(members))) if len(members) >= 2 else 0
        ranked = sorted(members, key=lambda i: _rank(seed, keys[i]))
        for i in ranked[:n_val]:
            is_val[i] = True
    return is_val


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
