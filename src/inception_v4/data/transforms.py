"""Inception preprocessing (``docs/preprocessing.md``) as torchvision transforms.

Train (slim ``preprocess_for_train``, fast mode): random crop of 8-100 % of the area with aspect
3/4-4/3 resized (bilinear) to the output size (torchvision's ``RandomResizedCrop``: after 10
failed draws it falls back to a central crop, where slim takes the whole image), random
horizontal flip, brightness shift ±32/255 (additive, as ``tf.image.random_brightness``), clip,
then saturation × [0.5, 1.5] (torchvision blends with the grey image; TF scales HSV
saturation), clip to [0, 1], then (x - 0.5) / 0.5 = [-1, 1].

Eval (slim ``preprocess_for_eval``): keep the central ``crop_pct`` of EACH side, exactly as
``tf.image.central_crop`` (offset ``int((n - n * crop_pct) / 2)``, size ``n - 2 * offset``),
then resize that box to the output size without keeping the aspect ratio (squash), with
Pillow's filter (which antialiases when shrinking, unlike TF). Images smaller than the output
are resized up. Then mean/std normalisation, or FaceNet's per-image standardisation
(:func:`prewhiten`: the ``inception_resnet_v1_facenet`` weights, davidsandberg/facenet
20170512-110547, expect aligned 160×160 RGB face crops standardised image by image; their
embeddings are not L2-normalised, so normalise them before comparing faces).

Each transform carries ``draft_size``: the dataset may decode a large JPEG at reduced DCT scale
as long as both sides stay at least that big (eval: output / crop_pct, so the crop is never
upsampled from a reduced decode; train: the output size).

Each transform is its geometric part (Pillow work ending in a uint8 ``3 × H × W`` tensor,
``.geometry``) followed by its normaliser (``.normalizer``, :mod:`.normalize`: uint8 in,
float32 out, on any device). The loaders of training and evaluation run the geometric part in
their workers and the normaliser on the device after the copy; the transforms themselves
return the same float tensors as ever (the normaliser run on the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from ..models import IMAGENET_CFG
from .normalize import (  # noqa: F401 - re-exported
    NORMALIZE_MODES,
    MeanStdNormalize,
    PerImageStandardize,
    Pixels,
    normalizer,
    prewhiten,
)

INCEPTION_MEAN, INCEPTION_STD = IMAGENET_CFG["mean"], IMAGENET_CFG["std"]
INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING, "lanczos": Image.Resampling.LANCZOS,
}
# What a transform reads of a pretrained_cfg, with the networks' own defaults (models/).
DEFAULT_CFG = {k: IMAGENET_CFG[k] for k in
               ("input_size", "crop_pct", "interpolation", "mean", "std", "normalize")}


def _size(image_size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if h < 1 or w < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    return int(h), int(w)


def central_box(width: int, height: int, fraction: float) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of ``tf.image.central_crop(fraction)``."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"crop_pct must be in (0, 1], got {fraction}")
    left, top = int((width - width * fraction) / 2), int((height - height * fraction) / 2)
    return left, top, width - left, height - top


class CentralCropResize:
    """Central ``fraction`` of each side, resized (squashed) to ``(height, width)``."""

    def __init__(self, size: tuple[int, int], fraction: float, interpolation: str) -> None:
        interpolation_mode(interpolation)  # validates the name
        central_box(1, 1, fraction)  # validates the fraction
        self.size, self.fraction, self.interpolation = size, fraction, interpolation

    def __call__(self, image: Image.Image) -> Image.Image:
        box = central_box(*image.size, self.fraction)
        height, width = self.size
        return image.resize((width, height), INTERPOLATIONS[self.interpolation.lower()],
                            box=box)

    def __repr__(self) -> str:
        return (f"CentralCropResize(size={self.size}, fraction={self.fraction}, "
                f"interpolation={self.interpolation!r})")


class RandomBrightnessShift:
    """Add one uniform value in [-max_delta, max_delta] to a [0, 1] tensor, then clip."""

    def __init__(self, max_delta: float) -> None:
        self.max_delta = max_delta

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        delta = (torch.rand(()).item() * 2.0 - 1.0) * self.max_delta
        return (x + delta).clamp_(0.0, 1.0)

    def __repr__(self) -> str:
        return f"RandomBrightnessShift(max_delta={self.max_delta:.6f})"


def interpolation_mode(name: str) -> InterpolationMode:
    """torchvision's mode for a filter name of :data:`INTERPOLATIONS` (any case); a clear
    error for any other name."""
    if name.lower() not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {name!r}; choose one of "
                         f"{', '.join(INTERPOLATIONS)}")
    return InterpolationMode(name.lower())


def eval_draft_size(size: int, crop_pct: float) -> int:
    """Smallest side a JPEG may be decoded at for a central ``crop_pct`` crop resized to
    ``size`` without upsampling the crop: ``size / crop_pct``."""
    return math.ceil(size / crop_pct)


def _reference_normalize(normalize: str, mean: Sequence[float] | None,
                         std: Sequence[float] | None) -> nn.Module:
    """The last step of the stock pipeline: torchvision's ``Normalize`` (or FaceNet's)."""
    last = normalizer(normalize, mean, std)  # validates the choice
    if isinstance(last, PerImageStandardize):
        return last
    return transforms.Normalize(tuple(mean), tuple(std))


class InceptionTrainGeometry:
    """The geometric part of :class:`InceptionTrain`: PIL → :class:`Pixels` (the uint8 crop
    with the brightness delta and saturation factor drawn for it).

    Every random number is drawn here, on the CPU, in the order of
    :func:`reference_train_transform` (the stock torchvision ``Compose``): the crop, the flip,
    the brightness delta, ColorJitter's order draw, the saturation factor.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        self.crop = transforms.RandomResizedCrop(
            size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
            interpolation=InterpolationMode.BILINEAR, antialias=True)
        self.max_delta, self.saturation = 32.0 / 255.0, (0.5, 1.5)
        self.draft_size = max(size)

    def __call__(self, image: Image.Image) -> Pixels:
        top, left, height, width = self.crop.get_params(image, self.crop.scale, self.crop.ratio)
        flip = bool(torch.rand(1) < 0.5)                            # RandomHorizontalFlip
        delta = (torch.rand(()).item() * 2.0 - 1.0) * self.max_delta  # RandomBrightnessShift
        torch.randperm(4)  # ColorJitter's order draw: the same stream as the reference
        factor = float(torch.empty(1).uniform_(*self.saturation))  # ColorJitter(saturation)
        image = image.crop((left, top, left + width, top + height))
        height, width = self.crop.size
        image = image.resize((width, height), Image.Resampling.BILINEAR)
        if flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()
        return Pixels(pixels, torch.tensor([delta, factor], dtype=torch.float64))

    def __repr__(self) -> str:
        return f"InceptionTrainGeometry(size={self.crop.size})"


class InceptionTrain:
    """Inception training preprocessing (module docstring): PIL → float ``3 × H × W``.

    ``geometry`` (:class:`InceptionTrainGeometry`) then ``normalizer``: the same output as
    :func:`reference_train_transform` from the same random draws (bit for bit in the tests):
    the crop, resize and flip are the same Pillow calls, and the four per-pixel steps (to
    [0, 1], brightness, saturation, normalisation) the same tensor arithmetic done in place,
    without four transforms' checks, copies and dispatch (1.6× faster per 96 px image;
    benchmarks/RESULTS.md), and batched on the device by the training loader.
    """

    def __init__(self, size: tuple[int, int], mean: Sequence[float] | None,
                 std: Sequence[float] | None, normalize: str) -> None:
        self.normalizer = normalizer(normalize, mean, std)
        self.geometry = InceptionTrainGeometry(size)
        self.draft_size = self.geometry.draft_size

    @property
    def per_image(self) -> PerImageStandardize | None:
        """FaceNet's standardisation when that is the normaliser, else None."""
        return self.normalizer if isinstance(self.normalizer, PerImageStandardize) else None

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.normalizer(self.geometry(image))

    def __repr__(self) -> str:
        return f"InceptionTrain(size={self.geometry.crop.size}, {self.normalizer})"


def train_transform(image_size: int | Sequence[int], *,
                    mean: Sequence[float] | None = INCEPTION_MEAN,
                    std: Sequence[float] | None = INCEPTION_STD,
                    normalize: str = "mean_std") -> InceptionTrain:
    """Inception training preprocessing (module docstring); output ``3 × H × W``."""
    return InceptionTrain(_size(image_size), mean, std, normalize)


def reference_train_transform(image_size: int | Sequence[int], *,
                              mean: Sequence[float] | None = INCEPTION_MEAN,
                              std: Sequence[float] | None = INCEPTION_STD,
                              normalize: str = "mean_std") -> transforms.Compose:
    """:func:`train_transform` as stock torchvision transforms (what it is tested against,
    and the plain pipeline of ``bench --mode data``)."""
    size = _size(image_size)
    pipeline = transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                                     interpolation=InterpolationMode.BILINEAR, antialias=True),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        RandomBrightnessShift(32.0 / 255.0),
        transforms.ColorJitter(saturation=(0.5, 1.5)),
        _reference_normalize(normalize, mean, std),
    ])
    pipeline.draft_size = max(size)
    return pipeline


def eval_transform(image_size: int | Sequence[int], crop_pct: float = 0.875,
                   interpolation: str = "bilinear", mean: Sequence[float] | None = INCEPTION_MEAN,
                   std: Sequence[float] | None = INCEPTION_STD, *,
                   normalize: str = "mean_std") -> transforms.Compose:
    """slim evaluation preprocessing: central ``crop_pct`` of each side, squash-resize.

    ``.geometry`` (the crop, a uint8 tensor) and ``.normalizer`` are its two parts."""
    size = _size(image_size)
    geometry = transforms.Compose([CentralCropResize(size, crop_pct, interpolation),
                                   transforms.PILToTensor()])
    last = normalizer(normalize, mean, std)
    pipeline = transforms.Compose([*geometry.transforms, last])
    pipeline.geometry, pipeline.normalizer = geometry, last
    pipeline.draft_size = geometry.draft_size = eval_draft_size(max(size), crop_pct)
    return pipeline


def resolve_data_config(model_or_cfg: object) -> dict:
    """The model's ``pretrained_cfg`` (or the given dict) over ``DEFAULT_CFG``; a module
    without one (not from this library) gets the defaults, as timm does."""
    if isinstance(model_or_cfg, Mapping):
        cfg = model_or_cfg
    else:
        cfg = getattr(model_or_cfg, "pretrained_cfg", None)
        if cfg is None and isinstance(model_or_cfg, nn.Module):
            cfg = {}
        if not isinstance(cfg, Mapping):
            raise ValueError(f"expected a model with a pretrained_cfg dict or a config dict, "
                             f"got {type(model_or_cfg).__name__}")
    out = {**DEFAULT_CFG, **{k: v for k, v in cfg.items() if k in DEFAULT_CFG}}
    out["normalize"] = out["normalize"] or "mean_std"
    return out


def create_transform(model_or_cfg: object,
                     training: bool = False) -> transforms.Compose | InceptionTrain:
    """Train or eval transform from a model's ``pretrained_cfg`` or a cfg dict (timm style).

    Reads ``input_size`` (C, H, W), ``crop_pct``, ``interpolation``, ``mean``, ``std`` and
    ``normalize`` ("per_image" = FaceNet standardisation); missing keys take ``DEFAULT_CFG``.
    Training always uses the Inception train geometry (bilinear), with the cfg's normalisation.
    """
    cfg = resolve_data_config(model_or_cfg)
    size = tuple(cfg["input_size"])[-2:]
    if training:
        return train_transform(size, mean=cfg["mean"], std=cfg["std"],
                               normalize=cfg["normalize"])
    return eval_transform(size, cfg["crop_pct"], cfg["interpolation"], cfg["mean"], cfg["std"],
                          normalize=cfg["normalize"])
