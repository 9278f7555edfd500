"""FaceNet's preprocessing: per-image standardisation ("prewhiten").

The pretrained ``inception_resnet_v1_facenet`` weights (davidsandberg/facenet 20170512-110547,
read from the Keras HDF5 by :func:`inception_v4.weights.load_pretrained`) expect aligned
160×160 RGB face crops standardised image by image, which is what the model's
``pretrained_cfg["normalize"] == "per_image"`` stands for. The embeddings are not
L2-normalised; normalise them before comparing faces.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def prewhiten(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``(x - mean) / max(std, 1/sqrt(n))`` per image, over all its ``n`` raw 0-255 values.

    ``x``: one image (C, H, W) or a batch (N, C, H, W), any real or uint8 dtype; the result
    is float32 with the same shape. ``std`` is the population standard deviation (NumPy's
    default, as in FaceNet's ``facenet.prewhiten``); the floor ``1/sqrt(n)`` keeps flat
    images finite.
    """
    t = torch.as_tensor(x)
    if t.dim() not in (3, 4):
        raise ValueError(f"prewhiten expects (C, H, W) or (N, C, H, W), got shape "
                         f"{tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"prewhiten expects real pixel values, got dtype {t.dtype}")
    batch = t.to(torch.float64).reshape(t.shape[0] if t.dim() == 4 else 1, -1)
    n = batch.shape[1]
    mean = batch.mean(1, keepdim=True)
    std = batch.std(1, correction=0, keepdim=True)
    out = (batch - mean) / std.clamp(min=1.0 / math.sqrt(n))
    return out.to(torch.float32).reshape(t.shape)
