"""Embedding networks (FaceNet's Inception-ResNet-v1): vectors and distances, not classes.

A network whose head is an embedding (``spec.head == "embedding"``; its ``config.json`` says
``"head": "embedding"``) outputs a vector per image, not class scores, so ``predict`` gives
the vector and ``compare`` the distance between two images.

Distance and threshold: FaceNet compares L2-normalised embeddings by their **squared**
Euclidean distance (0 for the same vector, 4 for opposite ones). Schroff et al., "FaceNet: A
Unified Embedding for Face Recognition and Clustering" (CVPR 2015, arXiv 1503.03832), Fig. 1:
"A threshold of 1.1 would classify every pair correctly" for their example pairs; FaceNet's
LFW protocol picks the threshold on the same squared distance by cross-validation.
:data:`SAME_FACE_THRESHOLD` is that 1.1. It is a starting point for aligned 160×160 crops
(MTCNN, as FaceNet aligned them): calibrate it on labelled pairs of your own images.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAME_FACE_THRESHOLD = 1.1  # squared L2 distance of unit embeddings (FaceNet paper, Fig. 1)


def is_embedding(model: nn.Module) -> bool:
    """Whether ``model``'s head is an embedding (FaceNet) rather than a classifier. A
    FaceNet network fine-tuned on classes (``train --pretrained``) carries their names and
    is a classifier: its head's outputs are those classes' logits."""
    if getattr(getattr(model, "spec", None), "head", "classifier") != "embedding":
        return False
    return not (getattr(model, "pretrained_cfg", None) or {}).get("label_names")


@torch.no_grad()
def embed(model: nn.Module, views: torch.Tensor,
          normalizer: nn.Module | None = None) -> torch.Tensor:
    """The unit-length embedding of one image from its ``V × C × H × W`` views (the mean of
    the views' outputs, then L2-normalised); float32 on the CPU. ``normalizer``: the views
    are uint8 pixels, normalised on the model's device (``views.view_normalizer``)."""
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = views.to(param.device if param is not None else views.device)
        out = model(x if normalizer is None else normalizer(x))
    finally:
        model.train(was_training)
    return F.normalize(out.float().mean(dim=0), dim=0).cpu()


def preview(vector: torch.Tensor, shown: int = 4) -> str:
    """The first values of an embedding, for people: ``[0.0123, -0.0456, ..., ...]``."""
    return "[" + ", ".join(f"{v:.4f}" for v in vector[:shown].tolist()) + ", ...]"


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Squared Euclidean distance of two embeddings (both unit length: 0 to 4)."""
    return float((a - b).pow(2).sum())


def write_embeddings(path: str | Path, names: Sequence[str], vectors: torch.Tensor) -> Path:
    """``.npy``: the ``N × D`` float32 array (rows in the order of ``names``); ``.csv``: one
    row per image, its name then the D values."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = vectors.numpy().astype(np.float32)
    if path.suffix == ".npy":
        np.save(path, array)
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image", *(f"e{i}" for i in range(array.shape[1]))])
            for name, row in zip(names, array, strict=True):
                writer.writerow([name, *(f"{v:.8g}" for v in row)])
    else:
        raise ValueError(f"--embeddings {path}: write .npy (a NumPy array) or .csv")
    return path
