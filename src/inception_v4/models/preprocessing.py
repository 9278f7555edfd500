"""What each network's input looks like (timm's ``pretrained_cfg``): the one source of truth
for preprocessing, kept beside the spec tables (torchvision's idea: weights and their
transforms travel together); read them through ``default_cfg(name)``, which copies. The data
package, evaluation, timm compatibility and the
weights format all read these; a model carries its own copy as ``model.pretrained_cfg``
(with its ``num_classes``). Beside the preprocessing, the keys timm's tools read off a model:
``pool_size`` (the last feature grid), ``first_conv`` and ``classifier`` (module names).
"""

from __future__ import annotations

from typing import Any

MIN_INPUT_SIZE = 75  # smallest square input for which every stride-2 VALID op has room


def pool_size(size: int) -> tuple[int, int]:
    """The last feature map's grid for a ``size``×``size`` input (timm's ``pool_size``).

    Every network has the same unpadded 3×3 ops before 35×35 (stride 2, 1, 2, 1, 2: Figs. 3
    and 14, the released stem) and one stride-2 op in each of Reduction-A and -B:
    299 → 149 → 147 → 73 → 71 → 35 → 17 → 8; 160 → 3; 75 → 1.
    """
    for stride in (2, 1, 2, 1, 2, 2, 2):
        size = (size - 3) // stride + 1
    return (size, size)


# Where timm's tools look for the first convolution (to adapt in_chans) and the classifier.
_LAYOUT: dict[str, Any] = {"first_conv": "stem.conv1a.conv", "classifier": "head.fc"}

# TF-slim's evaluation preprocessing: the central 87.5 % of each side, bilinear, scaled to
# [-1, 1] ((x - 0.5) / 0.5), 299×299 (docs/evaluation.md).
IMAGENET_CFG: dict[str, Any] = {
    "input_size": (3, 299, 299), "crop_pct": 0.875, "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "normalize": "mean_std",
    "min_input_size": (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE), "pool_size": pool_size(299),
    **_LAYOUT,
}

# FaceNet: aligned 160×160 face crops, per-image standardisation ("prewhiten"); no mean/std.
FACENET_CFG: dict[str, Any] = {
    "input_size": (3, 160, 160), "crop_pct": 1.0, "interpolation": "bilinear",
    "mean": None, "std": None, "normalize": "per_image",
    "min_input_size": (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE), "pool_size": pool_size(160),
    **_LAYOUT,
}
