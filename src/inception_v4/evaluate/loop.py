"""Evaluate one model or an ensemble on a dataset: predictions, then the summary dict."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data import BadImageError, resolve_data_config
from .blacklist import blacklist_mask, read_blacklist
from .metrics import summarize, topk_correct
from .predict import predict
from .progress import progress as progress_bar
from .views import crop_definition, draft_size, split_view_config, view_pixels


@dataclass
class Predictions:
    """Per evaluated image: dataset index, label, top-k classes/probabilities, correctness."""

    index: torch.Tensor
    label: torch.Tensor
    top_class: torch.Tensor  # N x k, best first
    top_prob: torch.Tensor  # N x k
    true_prob: torch.Tensor  # N
    correct1: torch.Tensor  # N bool (tie rule of metrics.topk_correct)
    correct5: torch.Tensor
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


def view_config(model: nn.Module) -> dict[str, Any]:
    """The :func:`views` keyword arguments a model's ``pretrained_cfg`` asks for (read
    through :func:`inception_v4.data.resolve_data_config`, as every transform is)."""
    cfg = resolve_data_config(model)
    per_image = cfg["normalize"] == "per_image"
    return {
        "image_size": int(cfg["input_size"][-1]), "crop_pct": float(cfg["crop_pct"]),
        "interpolation": cfg["interpolation"],
        "mean": None if per_image else cfg["mean"], "std": None if per_image else cfg["std"],
    }


_LOAD_ERRORS = (BadImageError, OSError, ValueError)


class _Views(Dataset):
    """Sample ``j`` → ``(dataset index, [uint8 views per member] or None, error or None)``."""

    def __init__(self, dataset: Any, indices: list[int], crops: int,
                 configs: list[dict[str, Any]]) -> None:
        self.dataset, self.indices, self.crops = dataset, indices, crops
        self.geometry = [split_view_config(c)[0] for c in configs]
        self.draft_size = max(draft_size(crops, c["image_size"], c["crop_pct"]) for c in configs)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> tuple[int, list[torch.Tensor] | None, str | None]:
        i = self.indices[j]
        try:
            image = self.dataset.load(i, draft_size=self.draft_size)
        except _LOAD_ERRORS as err:
            name = self.dataset.name(i)
            return i, None, str(err) if name in str(err) else f"{name}: {err}"
        return i, [view_pixels(image, self.crops, **cfg) for cfg in self.geometry], None


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _as_list(batch: list) -> list:
    return batch


def select_indices(size: int, limit: int | None) -> list[int]:
    """All indices, or ``limit`` evenly spaced ones (deterministic, spans every class when the
    dataset is sorted by class)."""
    if limit is None or limit >= size:
        return list(range(size))
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return sorted({int(round(float(x))) for x in torch.linspace(0, size - 1, limit)})


def align_classes(probs: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Drop TF-slim's background class (index 0 of 1001) for a 1000-class dataset; a clear
    error when the model's classes cannot be the dataset's."""
    k = probs.shape[-1]
    if k == num_classes:
        return probs
    if k == num_classes + 1:
        kept = probs[..., 1:]
        return kept / kept.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    raise ValueError(f"the model predicts {k} classes but the dataset has {num_classes}; use "
                     f"weights trained on this dataset's classes")


def _record(out: dict[str, list], probs: torch.Tensor, labels: torch.Tensor,
            index: list[int], k: int) -> None:
    top = probs.topk(k, dim=1)
    out["index"].append(torch.tensor(index))
    out["label"].append(labels)
    out["top_class"].append(top.indices)
    out["top_prob"].append(top.values)
    out["true_prob"].append(probs.gather(1, labels[:, None])[:, 0])
    out["correct1"].append(topk_correct(probs, labels, 1))
    out["correct5"].append(topk_correct(probs, labels, min(5, probs.shape[1])))


def _bad_images_error(bad: list[str]) -> ValueError:
    shown = "; ".join(bad[:50]) + (f"; ... and {len(bad) - 50} more" if len(bad) > 50 else "")
    return ValueError(f"{len(bad)} unreadable image(s): {shown}. Fix or remove them, or skip "
                      f"them with --skip-bad (skip_bad=True)")


def collect_predictions(
    models: nn.Module | Sequence[nn.Module], dataset: Any, crops: int = 1, *,
    batch_size: int = 32, skip_bad: bool = False, limit: int | None = None, workers: int = 0,
    progress: bool = False,
) -> Predictions:
    """Run the model (or the ensemble, probabilities averaged) over ``dataset``.

    Each model reads its own preprocessing from ``pretrained_cfg``. About ``batch_size`` views
    go through a model at once (several images at 1 crop, one image per step at 144). An
    unreadable image stops the run with the list of all unreadable files (the rest are still
    decoded to find them) unless ``skip_bad``, which skips them and lists them in ``skipped``.
    """
    crop_definition(crops)  # validates crops
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    members = [models] if isinstance(models, nn.Module) else list(models)
    if not members:
        raise ValueError("no model to evaluate")
    configs = [view_config(m) for m in members]
    # views cross as uint8 and are normalised on each member's device (CPU for ONNX Runtime)
    norms = [split_view_config(c)[1].to(_device(m))
             for c, m in zip(configs, members, strict=True)]
    indices = select_indices(len(dataset), limit)
    # pinned host memory where a GPU reads the views: predict's copies then run asynchronously
    pin = any(_device(m).type == "cuda" for m in members)
    loader = DataLoader(_Views(dataset, indices, crops, configs), collate_fn=_as_list,
                        batch_size=max(1, batch_size // crops), num_workers=workers,
                        pin_memory=pin)
    out: dict[str, list] = {key: [] for key in ("index", "label", "top_class", "top_prob",
                                                "true_prob", "correct1", "correct5")}
    bad: list[str] = []
    start = time.perf_counter()
    for batch in progress_bar(loader, "evaluate", "batch", quiet=not progress):
        bad += [err for _, v, err in batch if v is None]
        good = [(i, v) for i, v, _ in batch if v is not None]
        if (bad and not skip_bad) or not good:
            continue  # after a bad image: only decode, to list every unreadable file
        labels = torch.tensor([dataset.label(i) for i, _ in good])
        probs = torch.stack([
            align_classes(predict(m, torch.stack([v[j] for _, v in good]), batch_size,
                                  norms[j]), dataset.num_classes)
            for j, m in enumerate(members)]).mean(dim=0)
        _record(out, probs, labels, [i for i, _ in good], min(5, probs.shape[1]))
    if bad and not skip_bad:
        raise _bad_images_error(bad)
    if not out["index"]:
        raise ValueError(f"no image of {len(indices)} could be evaluated ({len(bad)} unreadable)")
    return Predictions(**{k: torch.cat(v) for k, v in out.items()},
                       seconds=time.perf_counter() - start, skipped=bad)


def summarize_predictions(pred: Predictions, crops: int, dataset: Any = None,
                          blacklist: str | Path | set[int] | None = None) -> dict[str, Any]:
    """The result dict: full-set metrics, crop definition, skipped files and, with a
    ``blacklist`` (file or set of 1-based indices), the non-blacklisted subset."""
    result: dict[str, Any] = {"crops": crops, "crop_definition": crop_definition(crops)}
    result.update(summarize(pred.correct1, pred.correct5, pred.seconds))
    result["skipped"] = list(pred.skipped)
    if blacklist is not None:
        listed = read_blacklist(blacklist) if isinstance(blacklist, (str, Path)) else blacklist
        names = [dataset.name(i) for i in range(len(dataset))]
        excluded = blacklist_mask(names, set(listed))[pred.index]
        keep = ~excluded
        subset = {"name": "non-blacklisted", "excluded": int(excluded.sum())}
        if keep.any():
            subset.update(summarize(pred.correct1[keep], pred.correct5[keep]))
        else:
            subset["images"] = 0
        result["subset"] = subset
    return result


def evaluate(
    models: nn.Module | Sequence[nn.Module], dataset: Any, crops: int = 1,
    blacklist: str | Path | set[int] | None = None, *, batch_size: int = 32,
    skip_bad: bool = False, limit: int | None = None, workers: int = 0, progress: bool = False,
) -> dict[str, Any]:
    """Top-1/top-5 error and accuracy (fractions, 0-1) of a model or an ensemble on ``dataset``.

    Returns ``crops``, ``crop_definition``, ``images``, ``top1_err``, ``top5_err``,
    ``top1_acc``, ``top5_acc``, ``seconds``, ``images_per_s``, ``skipped`` and, with a
    ``blacklist``, ``subset`` (the same metrics on the images the blacklist keeps).
    Models must already be on their device.
    """
    pred = collect_predictions(models, dataset, crops, batch_size=batch_size, skip_bad=skip_bad,
                               limit=limit, workers=workers, progress=progress)
    return summarize_predictions(pred, crops, dataset, blacklist)
