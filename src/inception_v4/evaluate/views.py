"""The crops ("views") one image is classified from: 1, 12 or 144 (the paper's Tables 2-5).

* 1 crop: the central ``crop_pct`` of each side (TF-slim ``central_crop``: the same offset is
  cut from both ends of a side), resized to ``image_size``×``image_size`` without keeping the
  aspect ratio. This is the data package's ``eval_transform``, pixel for pixel.
* 144 crops, as GoogLeNet defined them (Szegedy et al. 2014, the paper's reference [14]):
  the shorter side resized to 256, 288, 320 and 352 pixels scaled by ``image_size / 224``
  (342, 384, 427, 470 for 299), the left, centre and right (top, centre and bottom for a
  portrait image) square of that side, and per square the 4 corner crops and the centre crop
  of ``image_size`` plus the whole square resized to ``image_size``, each with its mirror:
  4 scales × 3 squares × 6 crops × 2 = 144.
* 12 crops (the paper cites [14] without defining them; our choice): the smallest of those
  scales (shorter side 256·S/224, which is S/0.875, the single crop's scale), its centre
  square, and that square's 6 crops with their mirrors: 6 × 2 = 12.

Views are ordered scale, square, crop (top-left, top-right, bottom-left, bottom-right,
centre, whole), mirror (as is, mirrored): :func:`view_layout` names them in that order.
A side shorter than the crop is upscaled first, never an error.

:func:`view_pixels` cuts the views as uint8 (a 144-crop image at 299 px is 38.6 MB, not
154 MB of float32); :func:`view_normalizer` makes them the network's input, on the device that
runs the network (``evaluate``'s loop and ``predict`` do so); :func:`views` is the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ..data.transforms import (
    CentralCropResize,
    central_box,
    eval_draft_size,
    interpolation_mode,
    normalizer,
)

GOOGLENET_SCALES = (256, 288, 320, 352)  # shorter side at 224 input, reference [14]
SQUARES = ("first", "centre", "last")  # left/centre/right or top/centre/bottom
CROPS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre", "whole")
CROP_COUNTS = (1, 12, 144)

CROP_DEFINITIONS = {
    1: "1 crop: central crop_pct of each side resized to image_size (TF-slim central_crop), "
       "no mirror",
    12: "12 crops: shorter side resized to 256*S/224; its centre square; 4 corner crops, "
        "centre crop and the whole square resized to S, each with its mirror (1 x 1 x 6 x 2)",
    144: "144 crops (GoogLeNet): shorter side resized to 256, 288, 320, 352 (*S/224); left, "
         "centre, right (top, centre, bottom) squares; 4 corner crops, centre crop and the "
         "whole square resized to S, each with its mirror (4 x 3 x 6 x 2)",
}

ImageLike = Image.Image | torch.Tensor


def crop_definition(crops: int) -> str:
    """One line saying what ``crops`` views are (for docs and JSON output)."""
    _check_crops(crops)
    return CROP_DEFINITIONS[crops]


def view_layout(crops: int) -> list[tuple[int, str, str, bool]]:
    """``(shorter side at 224, square, crop, mirrored)`` of each view, in :func:`views` order."""
    _check_crops(crops)
    if crops == 1:
        return [(0, "centre", "central", False)]
    scales = GOOGLENET_SCALES[:1] if crops == 12 else GOOGLENET_SCALES
    squares = ("centre",) if crops == 12 else SQUARES
    return [(b, q, c, m) for b in scales for q in squares for c in CROPS for m in (False, True)]


def views(
    image: ImageLike,
    crops: int = 1,
    *,
    image_size: int = 299,
    crop_pct: float = 0.875,
    interpolation: str = "bilinear",
    mean: Sequence[float] | None = (0.5, 0.5, 0.5),
    std: Sequence[float] | None = (0.5, 0.5, 0.5),
) -> torch.Tensor:
    """The ``crops`` views of ``image`` as a float tensor ``V × C × image_size × image_size``.

    ``image`` is a PIL image or a ``C × H × W`` tensor (uint8 0-255 or float 0-1). ``mean`` /
    ``std`` normalise each channel; ``None`` for both standardises each view on its own
    (FaceNet's "prewhiten" on 0-255 values). See the module docstring for the crop definitions.
    The same as ``view_normalizer(mean, std)(view_pixels(...))``.
    """
    pixels = view_pixels(image, crops, image_size=image_size, crop_pct=crop_pct,
                         interpolation=interpolation)
    return view_normalizer(mean, std)(pixels)


def view_pixels(image: ImageLike, crops: int = 1, *, image_size: int = 299,
                crop_pct: float = 0.875, interpolation: str = "bilinear") -> torch.Tensor:
    """The ``crops`` views of ``image`` (arguments as :func:`views`'), not normalised:
    uint8 ``V × C × image_size × image_size`` from a PIL image or a uint8 tensor (a float
    tensor gives float views, resized in float)."""
    _check_crops(crops)
    if image_size < 1 or not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"need image_size >= 1 and 0 < crop_pct <= 1, got {image_size}, "
                         f"{crop_pct}")
    mode = interpolation_mode(interpolation)  # validates the name for every crop count
    if crops == 1:
        out = [_central(image, crop_pct, image_size, interpolation)]
    else:
        scales = GOOGLENET_SCALES[:1] if crops == 12 else GOOGLENET_SCALES
        squares = (1,) if crops == 12 else (0, 1, 2)
        out = []
        for base in scales:
            scaled = _resize_shorter(image, round(base * image_size / 224), mode)
            for q in squares:
                for crop in _square_crops(_square(scaled, q), image_size, mode):
                    out += [crop, F.horizontal_flip(crop)]
    return torch.stack(out)


def split_view_config(cfg: dict) -> tuple[dict, nn.Module]:
    """A :func:`views` config (``evaluate.view_config``) as :func:`view_pixels`' arguments
    and the normaliser of those pixels."""
    geometry = {k: cfg[k] for k in ("image_size", "crop_pct", "interpolation")}
    return geometry, view_normalizer(cfg["mean"], cfg["std"])


def view_normalizer(mean: Sequence[float] | None, std: Sequence[float] | None) -> nn.Module:
    """uint8 views (any device) → the network's input: ``(x / 255 - mean) / std``, or, with
    ``mean`` and ``std`` None, FaceNet's standardisation of each view on its 0-255 values."""
    if mean is None or std is None:
        return normalizer("per_image", None, None)
    return normalizer("mean_std", mean, std)


def draft_size(crops: int, image_size: int, crop_pct: float) -> int:
    """Smallest side a JPEG may be decoded at (reduced DCT scale) without the views being
    upsampled from it: the single crop's (``eval_transform``'s), else the largest scale's."""
    _check_crops(crops)
    if crops == 1:
        return eval_draft_size(image_size, crop_pct)
    return round((256 if crops == 12 else 352) * image_size / 224)


def _check_crops(crops: int) -> None:
    if crops not in CROP_COUNTS:
        raise ValueError(f"crops must be one of {CROP_COUNTS}, got {crops!r}")


def _size(image: ImageLike) -> tuple[int, int]:
    """(height, width)."""
    if isinstance(image, Image.Image):
        return image.height, image.width
    return int(image.shape[-2]), int(image.shape[-1])


def _to_pixels(image: ImageLike) -> torch.Tensor:
    """``C × H × W`` uint8 from a PIL image or a uint8 tensor; float from any other tensor
    (taken as already in [0, 1])."""
    if isinstance(image, Image.Image):
        return F.pil_to_tensor(image.convert("RGB"))
    return image if image.dtype == torch.uint8 else image.float()


def _resize(image: ImageLike, size: tuple[int, int], mode: InterpolationMode) -> ImageLike:
    """Resize to (height, width); PIL images are resampled by Pillow, tensors by torch."""
    if _size(image) == size:
        return image
    return F.resize(image, list(size), interpolation=mode, antialias=True)


def _central(image: ImageLike, crop_pct: float, size: int, interpolation: str) -> torch.Tensor:
    """The data package's central crop resized to ``size``×``size`` (``eval_transform``)."""
    if isinstance(image, Image.Image):  # Pillow resamples the box in place
        crop = CentralCropResize((size, size), crop_pct, interpolation)
        return _to_pixels(crop(image.convert("RGB")))
    h, w = _size(image)
    left, top, right, bottom = central_box(w, h, crop_pct)
    box = F.crop(image, top, left, bottom - top, right - left)
    return _to_pixels(_resize(box, (size, size), interpolation_mode(interpolation)))


def _resize_shorter(image: ImageLike, side: int, mode: InterpolationMode) -> ImageLike:
    """Resize so the shorter side is ``side`` (up or down), keeping the aspect ratio."""
    h, w = _size(image)
    if h <= w:
        return _resize(image, (side, max(side, round(w * side / h))), mode)
    return _resize(image, (max(side, round(h * side / w)), side), mode)


def _square(image: ImageLike, which: int) -> ImageLike:
    """The first (left/top), centre or last (right/bottom) square of the longer side."""
    h, w = _size(image)
    side, extra = min(h, w), abs(h - w)
    offset = (0, int(round(extra / 2.0)), extra)[which]
    return F.crop(image, 0, offset, side, side) if w >= h else F.crop(image, offset, 0, side, side)


def _square_crops(square: ImageLike, size: int, mode: InterpolationMode) -> list[torch.Tensor]:
    """4 corners, centre (``size``×``size``) and the whole square resized to ``size``."""
    side = _size(square)[0]
    whole = _resize(square, (size, size), mode)
    if side < size:  # cannot happen at the GoogLeNet scales; kept so no size is an error
        square, side = whole, size
    far, mid = side - size, int(round((side - size) / 2.0))
    corners = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]
    return [_to_pixels(F.crop(square, t, l, size, size)) for t, l in corners] + [
        _to_pixels(whole)]

