"""Decoding one image safely: bytes (or an in-memory picture) → RGB ``PIL.Image``.

Every failure (unknown format, empty or truncated file, text named ``.jpg``, a header claiming
more pixels than ``max_pixels``, an unconvertible mode) becomes :class:`BadImageError` naming
the file, so a loader can skip it instead of dying hours into an epoch.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own default (about 89.5 megapixels): above it an image is treated as a bomb.
MAX_PIXELS = 89_478_485

_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


class BadImageError(ValueError):
    """An image that cannot be decoded; the message names the file and the reason."""


def decode_image(
    data: bytes | Image.Image,
    name: str,
    *,
    draft_size: int | None = None,
    max_pixels: int = MAX_PIXELS,
) -> Image.Image:
    """Decode ``data`` to an upright RGB image, or raise :class:`BadImageError` naming ``name``.

    ``draft_size``: for JPEGs at least twice as large, decode at a reduced DCT scale (1/2, 1/4
    or 1/8) chosen by Pillow's ``draft`` so that both sides stay ``>= draft_size``.
    The EXIF orientation is applied; grey, CMYK, palette, alpha (dropped) and 16-bit images
    become 8-bit RGB.
    """
    try:
        image = data if isinstance(data, Image.Image) else _open(data, name, max_pixels)
        _check_pixels(image, name, max_pixels)
        if draft_size and image.format == "JPEG" and min(image.size) >= 2 * draft_size:
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)
    except BadImageError:
        raise
    except Exception as err:  # noqa: BLE001 - Pillow plugins raise many types on bad input
        raise BadImageError(f"{name}: cannot decode image ({type(err).__name__}: {err})") from err


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Parse the header only; Pillow's own bomb check is turned into our error."""
    if not data:
        raise BadImageError(f"{name}: empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except UnidentifiedImageError as err:  # its text names a BytesIO object, not the file
            raise BadImageError(f"{name}: cannot decode image: not an image (no format Pillow "
                                f"reads starts with {data[:8]!r})") from err
        except Image.DecompressionBombError as err:
            limit = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)
            raise BadImageError(f"{name}: refused as a decompression bomb, more than the "
                                f"limit of {limit:,} pixels ({err})") from err


def _check_pixels(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise BadImageError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{max_pixels:,} pixels (decompression bomb?); raise max_pixels if it is genuine")


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit grey is scaled (not clipped) to 0-255, alpha is dropped."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")
