"""Failure analysis (the paper's closing remarks on what the networks get wrong).

``write_report`` puts three files in a folder:

* ``per_class.csv``: per class, images, top-1 / top-5 accuracy (fractions, 0-1), top-1
  errors (a count);
* ``confusions.csv``: the most frequent (true class → top-1 prediction) pairs with
  true ≠ predicted, with their share of the true class;
* ``worst.png``: a contact sheet of the images whose true class got the lowest probability,
  each titled with its true class and its top-5 predictions.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch

from .loop import Predictions


def per_class_rows(pred: Predictions, classes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for c, name in enumerate(classes):
        mine = pred.label == c
        n = int(mine.sum())
        rows.append({
            "class_index": c, "class_name": name, "images": n,
            "top1_acc": float(pred.correct1[mine].float().mean()) if n else "",
            "top5_acc": float(pred.correct5[mine].float().mean()) if n else "",
            "top1_errors": int((~pred.correct1[mine]).sum()),
        })
    return rows


def confusion_rows(pred: Predictions, classes: list[str], top: int = 50) -> list[dict[str, Any]]:
    """Most frequent wrong (true, predicted) pairs, by count, then by class indices."""
    true, guess = pred.label, pred.top_class[:, 0]
    wrong = true != guess
    pairs = torch.stack([true[wrong], guess[wrong]], dim=1)
    if not len(pairs):
        return []
    unique, counts = pairs.unique(dim=0, return_counts=True)
    per_class = torch.bincount(true, minlength=len(classes))
    order = sorted(range(len(unique)), key=lambda i: (-int(counts[i]), *unique[i].tolist()))
    rows = []
    for i in order[:top]:
        t, p = unique[i].tolist()
        rows.append({"true_index": t, "true_name": classes[t], "predicted_index": p,
                     "predicted_name": classes[p], "count": int(counts[i]),
                     "share_of_true_class": int(counts[i]) / int(per_class[t])})
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]], header: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def contact_sheet(pred: Predictions, dataset: Any, classes: list[str], path: Path,
                  count: int = 16) -> list[int]:
    """Save the sheet of the ``count`` worst images; returns their dataset indices."""
    import matplotlib  # optional at import time: only a report draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worst = torch.argsort(pred.true_prob, stable=True)[:count].tolist()
    cols = min(4, max(1, len(worst)))
    rows = (len(worst) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 4.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, j in zip(axes.flat, worst, strict=False):
        i = int(pred.index[j])
        ax.imshow(dataset.load(i))
        lines = [f"true: {classes[int(pred.label[j])]} ({float(pred.true_prob[j]):.2f})"]
        lines += [f"{classes[int(c)][:24]} {float(p):.2f}"
                  for c, p in zip(pred.top_class[j], pred.top_prob[j], strict=True)]
        ax.set_title("\n".join(lines), fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [int(pred.index[j]) for j in worst]


def write_report(pred: Predictions, dataset: Any, out_dir: str | Path, worst: int = 16,
                 ) -> dict[str, str]:
    """Write ``per_class.csv``, ``confusions.csv`` and ``worst.png``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    classes = list(dataset.classes)
    paths = {"per_class": out / "per_class.csv", "confusions": out / "confusions.csv",
             "worst": out / "worst.png"}
    _write_csv(paths["per_class"], per_class_rows(pred, classes),
               ["class_index", "class_name", "images", "top1_acc", "top5_acc", "top1_errors"])
    _write_csv(paths["confusions"], confusion_rows(pred, classes),
               ["true_index", "true_name", "predicted_index", "predicted_name", "count",
                "share_of_true_class"])
    contact_sheet(pred, dataset, classes, paths["worst"], worst)
    return {k: str(v) for k, v in paths.items()}
