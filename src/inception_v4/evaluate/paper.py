"""The published errors a measured result is read against: the paper's Tables 2-5 and the
released checkpoints' own figures (sources in ``docs/paper-results.md``).

They are set beside a result only when it was measured as they were: on ILSVRC-2012
validation (50,000 images, 1000 classes; models with 1000 or 1001 outputs), every image
evaluated, at the same number of crops, and for the paper's Table 2 on the images the
ILSVRC-2014 blacklist keeps (1,762 excluded). Otherwise the result says why they are omitted.
Errors are fractions (0-1), as in every file the project writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from ..weights.catalogue import CATALOGUE

VAL_IMAGES = 50_000  # ILSVRC-2012 validation
VAL_CLASSES = 1000
BLACKLISTED = 1_762  # ILSVRC2014_clsloc_validation_blacklist.txt


@dataclass(frozen=True)
class Published:
    """One published figure: where from, on which images, top-1 and top-5 error."""

    source: str  # short label for the printed table
    reference: str  # where the number is printed (docs/paper-results.md has the links)
    set: str  # "all" (the 50,000 images) or "non-blacklisted"
    top1_err: float
    top5_err: float


def _paper(table: int, subset: str, top1: float, top5: float) -> Published:
    return Published(f"paper Table {table}", f"arXiv:1602.07261, Table {table}", subset,
                     top1, top5)


def _catalogue(model: str) -> tuple[Published, ...]:
    """The known weights of ``model`` with published errors (``weights.catalogue``)."""
    return tuple(Published(f"timm {w.name.rsplit('.', 1)[-1]}", w.reference, "all",
                           w.top1_err, w.top5_err)
                 for w in CATALOGUE if w.model == model and w.top1_err is not None
                 and w.top5_err is not None)


# The paper's networks under our registry names; IR-v2's figures stand for both builds.
NETWORKS = {"inception_v4": "Inception-v4", "inception_resnet_v1": "Inception-ResNet-v1",
            "inception_resnet_v2": "Inception-ResNet-v2",
            "inception_resnet_v2_paper": "Inception-ResNet-v2"}

# (paper network, crops) → figures. Table 2: 1 crop on the non-blacklisted subset; Tables 3
# and 4: 12 and 144 crops on all 50,000 images. The released checkpoints: 1 crop, all images.
PUBLISHED: dict[tuple[str, int], tuple[Published, ...]] = {
    ("Inception-ResNet-v1", 1): (_paper(2, "non-blacklisted", 0.213, 0.055),),
    ("Inception-v4", 1): (
        _paper(2, "non-blacklisted", 0.200, 0.050),
        Published("TF-slim release", "TF-slim README, inception_v4_2016_09_09", "all",
                  0.198, 0.048),
        *_catalogue("inception_v4")),
    ("Inception-ResNet-v2", 1): (
        _paper(2, "non-blacklisted", 0.199, 0.049),
        Published("TF-slim release", "TF-slim README, inception_resnet_v2_2016_08_30", "all",
                  0.196, 0.047),
        *_catalogue("inception_resnet_v2")),
    ("Inception-ResNet-v1", 12): (_paper(3, "all", 0.198, 0.046),),
    ("Inception-v4", 12): (_paper(3, "all", 0.187, 0.042),),
    ("Inception-ResNet-v2", 12): (_paper(3, "all", 0.187, 0.041),),
    ("Inception-ResNet-v1", 144): (_paper(4, "all", 0.188, 0.043),),
    ("Inception-v4", 144): (_paper(4, "all", 0.177, 0.038),),
    ("Inception-ResNet-v2", 144): (_paper(4, "all", 0.178, 0.037),),
    # Table 5: one Inception-v4 and three Inception-ResNet-v2, 144 crops each.
    ("Inception-v4 + 3× Inception-ResNet-v2", 144): (_paper(5, "all", 0.165, 0.031),),
}
# The ensembles the paper reports, by their members.
ENSEMBLES = {frozenset(Counter({"Inception-v4": 1, "Inception-ResNet-v2": 3}).items()):
             "Inception-v4 + 3× Inception-ResNet-v2"}


def paper_network(models: list[str]) -> str | None:
    """The paper's name for a model (registry name) or an ensemble of them; None if none."""
    names = [NETWORKS.get(m) for m in models]
    if None in names:
        return None
    if len(names) == 1:
        return names[0]
    return ENSEMBLES.get(frozenset(Counter(names).items()))


def lookup(models: list[str], crops: int) -> tuple[Published, ...]:
    """Every published figure for these models (one, or an ensemble's members) at ``crops``."""
    network = paper_network(models)
    return PUBLISHED.get((network, crops), ()) if network else ()


def not_comparable(result: dict[str, Any], model_classes: int | None,
                   data_classes: int) -> str | None:
    """Why the published figures do not apply to ``result`` (None: they do)."""
    total, done = result.get("images_total"), result.get("images", 0)
    if total != VAL_IMAGES or data_classes != VAL_CLASSES:
        return (f"not ILSVRC-2012 validation: {total} images in {data_classes} classes "
                f"(the published figures are on its {VAL_IMAGES:,} images in {VAL_CLASSES})")
    if model_classes not in (VAL_CLASSES, VAL_CLASSES + 1):
        return f"the model has {model_classes} outputs, not ImageNet's 1000 (or 1001)"
    if done != VAL_IMAGES:
        return (f"{done:,} of the {VAL_IMAGES:,} images evaluated (--limit or skipped "
                f"images); the published figures are on all of them")
    return None


def _subset_note(result: dict[str, Any]) -> str | None:
    subset = result.get("subset")
    if subset is None:
        return "Table 2 is on the non-blacklisted images: pass --blacklist to compare"
    if subset.get("excluded") != BLACKLISTED:
        return (f"the blacklist excluded {subset.get('excluded')} images, the ILSVRC-2014 "
                f"one {BLACKLISTED:,}: Table 2 not compared")
    return None


def published_beside(result: dict[str, Any], models: list[str], model_classes: int | None,
                     data_classes: int) -> dict[str, Any]:
    """``{"rows": [...], "notes": [...]}``: the figures for the sets measured, or
    ``{"rows": [], "omitted": why}``."""
    why = not_comparable(result, model_classes, data_classes)
    figures = lookup(models, int(result["crops"]))
    if why is None and not figures:
        why = f"no published figure for {' + '.join(models)} at {result['crops']} crop(s)"
    if why is not None:
        return {"rows": [], "omitted": why}
    rows, notes = [], []
    for fig in figures:
        note = _subset_note(result) if fig.set == "non-blacklisted" else None
        if note is None:
            rows.append(asdict(fig))
        else:
            notes.append(note)
    return {"rows": rows, "notes": notes}


def published_lines(result: dict[str, Any], label: str, width: int) -> list[str]:
    """The printed rows (percent) of the published figures for the set ``label``."""
    out = []
    for row in result.get("published", {}).get("rows", []):
        if row["set"] == label:
            out.append(f"{'  ' + row['source']:{width}s} {100 * row['top1_err']:>9.2f}% "
                       f"{100 * row['top5_err']:>9.2f}%")
    return out
