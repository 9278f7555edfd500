"""Name mapping machinery: translate each of *our* state-dict keys into a source's key.

A :class:`Layout` describes how another implementation names the modules of one of our
networks: a table for the stem, one source block name per stage row, a table per block type
and one for the head (the tables themselves are in :mod:`.layouts`). The translation walks
our model, so it follows its width and depth (stage repeat counts), never the position or
sort order of keys in a file. :func:`remap` then gathers the source tensors under our names
and lists what is missing, unexpected or wrongly shaped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


def torch_leaf(prefix: str, leaf: str) -> str | None:
    """PyTorch sources keep our parameter names: ``<prefix>.conv.weight``, ``.bn.bias``…"""
    return f"{prefix}.{leaf}" if prefix else leaf


@dataclass(frozen=True)
class Layout:
    """How one source names the modules of one of our networks.

    ``stem``, ``head`` and each ``blocks[<class name>]`` map one of our module paths (relative
    to the stem, the head or the block) to the source's; the longest matching path wins and
    the rest of the key (``conv.weight``, ``bn.running_mean``…) goes through ``leaf``, which
    returns None for tensors the source does not store (Keras has no ``num_batches_tracked``).
    ``stages[s]`` names the source block of our ``stages.s.i``; it may use ``{i}`` (index in
    the stage), ``{j}`` (i + 1) and ``{n}`` (running block number, starting at ``first_block``).
    A source that names layers by position, not by name (Keras' auto-numbered layers), gives
    ``by_position(model)``, the whole key map; of the tables only ``head`` is then used.
    """

    name: str
    stem: dict[str, str]
    stages: tuple[str, ...]
    blocks: dict[str, dict[str, str]]
    head: dict[str, str]
    sep: str = "."
    first_block: int = 0
    leaf: Callable[[str, str], str | None] = torch_leaf
    by_position: Callable[[nn.Module], dict[str, str | None]] | None = None


def _match(table: dict[str, str], rest: str) -> tuple[str, str] | None:
    """(source path, remaining leaf) for the longest table entry that prefixes ``rest``."""
    for ours in sorted(table, key=len, reverse=True):
        if ours == "":
            return table[ours], rest
        if rest.startswith(ours + "."):
            return table[ours], rest[len(ours) + 1:]
    return None


def _join(block: str, sub: str, sep: str) -> str:
    return f"{block}{sep}{sub}" if block and sub else block or sub


def source_key(model: nn.Module, key: str, layout: Layout) -> str | None:
    """The source's name for our state-dict ``key``, or None when the source has none."""
    part, _, rest = key.partition(".")
    if part == "stem":
        hit = _match(layout.stem, rest)
        return None if hit is None else layout.leaf(hit[0], hit[1])
    if part == "head":
        hit = _match(layout.head, rest)
        return None if hit is None else layout.leaf(hit[0], hit[1])
    if part != "stages":
        return None  # aux_head: no source we read has one
    s_str, b_str, rest = rest.split(".", 2)
    s, i = int(s_str), int(b_str)
    if s >= len(layout.stages):
        return None
    running = layout.first_block + sum(len(st) for st in model.stages[:s]) + i
    block_name = layout.stages[s].format(i=i, j=i + 1, n=running)
    table = layout.blocks.get(type(model.stages[s][i]).__name__)
    hit = None if table is None else _match(table, rest)
    if hit is None:
        return None
    return layout.leaf(_join(block_name, hit[0], layout.sep), hit[1])


def head_source_key(layout: Layout | None) -> str | None:
    """The source's name for our classifier / embedding weight ``head.fc.weight``."""
    if layout is None:
        return "head.fc.weight"
    hit = _match(layout.head, "fc.weight")
    return None if hit is None else layout.leaf(hit[0], hit[1])


def key_map(model: nn.Module, layout: Layout | None) -> dict[str, str | None]:
    """Each of our state-dict keys → the source key (identity for our own format)."""
    keys = list(model.state_dict())
    if layout is None:
        return {k: k for k in keys}
    if layout.by_position is not None:
        return layout.by_position(model)
    return {k: source_key(model, k, layout) for k in keys}


@dataclass
class Remapped:
    """Source tensors under our names, and everything that did not fit."""

    state: dict[str, torch.Tensor]
    missing: list[str]  # ours, with the source name tried: "ours (source: theirs)"
    unexpected: list[str]  # source keys nobody asked for
    wrong_shape: list[str]  # "ours: ours-shape vs source-shape"
    notes: list[str]


def _fit_classifier(key: str, t: torch.Tensor, shape: torch.Size,
                    notes: list[str]) -> torch.Tensor:
    """TF-slim's 1001-class heads (background at index 0) into a 1000-class model."""
    if key.startswith("head.fc.") and t.shape[0] == 1001 and shape[0] == 1000 \
            and tuple(t.shape[1:]) == tuple(shape[1:]):
        if key.endswith(".weight"):
            notes.append("dropped the background class (row 0) of a 1001-class classifier")
        return t[1:]
    return t


def remap(model: nn.Module, source: dict[str, torch.Tensor], layout: Layout | None,
          optional: Callable[[str], bool]) -> Remapped:
    """Gather ``source`` tensors under our keys; ``optional(ours)`` keys may be absent."""
    ours = model.state_dict()
    out = Remapped({}, [], [], [], [])
    used = set()
    for key, src_key in key_map(model, layout).items():
        if src_key is None or src_key not in source:
            if not optional(key):
                out.missing.append(key if src_key in (None, key) else f"{key} (source: {src_key})")
            continue
        used.add(src_key)
        t = _fit_classifier(key, source[src_key], ours[key].shape, out.notes)
        if tuple(t.shape) != tuple(ours[key].shape):
            out.wrong_shape.append(f"{key}: model {tuple(ours[key].shape)} vs source "
                                   f"{src_key} {tuple(t.shape)}")
            continue
        out.state[key] = t
    out.unexpected = sorted((k for k in source if k not in used),
                            key=lambda k: k.endswith("num_batches_tracked"))
    return out


def _few(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", … ({len(items) - n} more)" if len(items) > n else "")


def mismatch_message(r: Remapped, what: str, hint: str = "") -> str:
    """One paragraph naming a few missing, unexpected and wrongly shaped keys, with counts."""
    parts = [f"cannot load {what}:"]
    if r.missing:
        parts.append(f"{len(r.missing)} missing key(s) [{_few(r.missing)}];")
    if r.unexpected:
        parts.append(f"{len(r.unexpected)} unexpected key(s) [{_few(r.unexpected)}];")
    if r.wrong_shape:
        parts.append(f"{len(r.wrong_shape)} wrongly shaped [{_few(r.wrong_shape, 3)}];")
    if hint:
        parts.append(hint)
    return " ".join(parts)
