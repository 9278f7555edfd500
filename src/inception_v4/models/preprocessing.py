"""What each network's input looks like (timm's ``pretrained_cfg``): the one source of truth
for preprocessing, kept beside the spec tables (torchvision's idea: weights and their
transforms travel together); read them through ``default_cfg(name)``, which copies. The data
package, evaluation, timm compatibility and the
weights format all read these; a model carries its own copy as ``model.pretrained_cfg``.
"""

from __future__ import annotations

from typing import Any

MIN_INPUT_SIZE = 75  # smallest square input for which every stride-2 VALID op has room

# TF-slim's evaluation preprocessing: the central 87.5 % of each side, bilinear, scaled to
# [-1, 1] ((x - 0.5) / 0.5), 299×299 (docs/evaluation.md).
IMAGENET_CFG: dict[str, Any] = {
    "input_size": (3, 299, 299), "crop_pct": 0.875, "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "normalize": "mean_std",
    "min_input_size": (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE),
}

# FaceNet: aligned 160×160 face crops, per-image standardisation ("prewhiten"); no mean/std.
FACENET_CFG: dict[str, Any] = {
    "input_size": (3, 160, 160), "crop_pct": 1.0, "interpolation": "bilinear",
    "mean": None, "std": None, "normalize": "per_image",
    "min_input_size": (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE),
}
