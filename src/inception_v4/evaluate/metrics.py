"""Top-k correctness with a deterministic tie rule, and the error/accuracy summary: the one
top-k implementation, used by ``inception-v4 evaluate`` and by training's per-epoch
validation alike.

Tie rule (pessimistic): the true class counts as within the top k only if fewer than ``k``
*other* classes score **greater than or equal to** it. A tie at the k-th place therefore counts
as wrong: every tied class is ranked ahead of the true one. A model that outputs the same score
for every class scores 0 % (not 100 %), and the result never depends on class order or on how a
sort breaks ties. Exact ties are rare with real networks; this only settles the degenerate cases.
"""

from __future__ import annotations

import torch


def rank_of_true(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How many other classes score at least as high as the true class (0 = clear winner)."""
    if scores.dim() != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f"scores must be N x C and labels N, got {tuple(scores.shape)} and "
                         f"{tuple(labels.shape)}")
    labels = labels.long()
    if len(labels) and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must lie in [0, {scores.shape[1]}), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    true = scores.gather(1, labels[:, None])
    return (scores >= true).sum(dim=1) - 1


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Bool ``N``: the true class is among the top ``k`` (ties at the k-th place count wrong)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return rank_of_true(scores, labels) < k


def summarize(correct1: torch.Tensor, correct5: torch.Tensor, seconds: float | None = None,
              ) -> dict[str, float | int]:
    """``images``, ``top1_err``/``top5_err`` and ``top1_acc``/``top5_acc`` as fractions (0-1:
    the unit of every file the project writes; people are shown percent)."""
    n = int(correct1.numel())
    if n == 0:
        raise ValueError("no images were evaluated; check the data path, --limit and the "
                         "blacklist")
    acc1 = float(correct1.double().mean())
    acc5 = float(correct5.double().mean())
    out: dict[str, float | int] = {
        "images": n, "top1_err": 1.0 - acc1, "top5_err": 1.0 - acc5,
        "top1_acc": acc1, "top5_acc": acc5,
    }
    if seconds is not None:
        out["seconds"] = seconds
        out["images_per_s"] = n / max(seconds, 1e-9)
    return out
