"""Crop geometry: 1, 12 and 144 views of an image whose pixels hold their own coordinates."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from inception_v4.data import eval_transform
from inception_v4.evaluate import crop_definition, view_layout, views

H, W, S = 300, 400, 96  # landscape image, network input 96
RAW = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}  # no normalisation: values = coords


def coordinate_image(h: int = H, w: int = W) -> torch.Tensor:
    """Float image: channel 0 = x (column), channel 1 = y (row), channel 2 = 0."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys, torch.zeros_like(xs)])


def expected_coords(base: int, square: str, crop: str, mirror: bool, h: int = H, w: int = W,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Original-image x of each output column and y of each output row, by the GoogLeNet rule."""
    s = round(base * S / 224)  # shorter side after resizing
    h2, w2 = (s, round(w * s / h)) if h <= w else (round(h * s / w), s)
    extra = abs(h2 - w2)
    offset = {"first": 0, "centre": round(extra / 2), "last": extra}[square]
    oy, ox = (0, offset) if w2 >= h2 else (offset, 0)
    r = torch.arange(S, dtype=torch.float64)
    far, mid = s - S, round((s - S) / 2)
    if crop == "whole":  # the square resized to S: pixel centres map back by s / S
        ry = rx = (r + 0.5) * s / S - 0.5
    else:
        ty, tx = {"top_left": (0, 0), "top_right": (0, far), "bottom_left": (far, 0),
                  "bottom_right": (far, far), "centre": (mid, mid)}[crop]
        ry, rx = ty + r, tx + r
    x = (ox + rx + 0.5) * w / w2 - 0.5
    y = (oy + ry + 0.5) * h / h2 - 0.5
    return (x.flip(0) if mirror else x), y


@pytest.mark.parametrize("crops", [1, 12, 144])
def test_views_count_and_shape(crops: int) -> None:
    v = views(coordinate_image(), crops, image_size=S)
    assert v.shape == (crops, 3, S, S)
    assert len(view_layout(crops)) == crops
    assert crop_definition(crops).startswith(f"{crops} crop")


@pytest.mark.parametrize("crops", [12, 144])
@pytest.mark.parametrize("portrait", [False, True])
def test_views_geometry_matches_googlenet_layout(crops: int, portrait: bool) -> None:
    """Every view's columns/rows come from where the layout says (within half a pixel)."""
    img = coordinate_image()
    h, w = H, W
    if portrait:  # transpose the image: x and y swap roles, squares go top/centre/bottom
        img, h, w = coordinate_image(W, H), W, H
    v = views(img, crops, image_size=S, **RAW).double()
    for k, (base, square, crop, mirror) in enumerate(view_layout(crops)):
        x, y = expected_coords(base, square, crop, mirror, h, w)
        assert (v[k, 0].mean(0) - x).abs().max() < 0.6, (k, base, square, crop, mirror)
        assert (v[k, 1].mean(1) - y).abs().max() < 0.6, (k, base, square, crop, mirror)


def test_144_views_corners_mirrors_and_scales() -> None:
    v = views(coordinate_image(), 144, image_size=S, **RAW)
    layout = view_layout(144)
    at = {entry: i for i, entry in enumerate(layout)}
    # corners really are corners: the first scale's left square starts at the image origin,
    # the right square's bottom-right crop ends at the far corner
    tl = v[at[(256, "first", "top_left", False)]]
    assert tl[0, 0, 0] < 1.5 and tl[1, 0, 0] < 1.5
    br = v[at[(352, "last", "bottom_right", False)]]
    assert br[0, -1, -1] > W - 2.5 and br[1, -1, -1] > H - 2.5
    # the whole centre square spans the full height and the middle H columns
    whole = v[at[(288, "centre", "whole", False)]]
    assert whole[1, 0, 0] < 2 and whole[1, -1, 0] > H - 3
    # (within one output pixel = 300 / 96 original pixels)
    assert abs(whole[0, 0, 0] - (W - H) / 2) < 3.2
    assert abs(whole[0, 0, -1] - ((W + H) / 2 - 1)) < 3.2
    # mirrors are exact mirror images of their partner
    for i in range(0, 144, 2):
        assert torch.equal(v[i + 1], v[i].flip(-1))
    # scales: a centre crop covers S * H / s original pixels, s = 342/384/427/470 * 96/299
    spans = [float(v[at[(b, "centre", "centre", False)], 0, 0, -1]
                   - v[at[(b, "centre", "centre", False)], 0, 0, 0]) for b in (256, 288, 320, 352)]
    expected = [(S - 1) * W / round(W * round(b * S / 224) / H) for b in (256, 288, 320, 352)]
    assert spans == pytest.approx(expected, abs=0.5)


def test_12_views_are_the_first_scale_centre_square_of_144() -> None:
    img = coordinate_image()
    v12, v144 = views(img, 12, image_size=S), views(img, 144, image_size=S)
    picked = [view_layout(144).index(entry) for entry in view_layout(12)]
    assert torch.equal(v12, v144[picked])


def test_single_view_is_central_crop_pct_of_each_side() -> None:
    v = views(coordinate_image(), 1, image_size=S, crop_pct=0.875, **RAW)[0].double()
    top, left = int((H - H * 0.875) / 2), int((W - W * 0.875) / 2)  # 18, 25
    r = torch.arange(S, dtype=torch.float64)
    x = left + (r + 0.5) * (W - 2 * left) / S - 0.5
    y = top + (r + 0.5) * (H - 2 * top) / S - 0.5
    assert (v[0].mean(0) - x).abs().max() < 0.6
    assert (v[1].mean(1) - y).abs().max() < 0.6


def test_single_view_equals_data_eval_transform() -> None:
    rng = torch.Generator().manual_seed(1)
    for size in [(97, 131), (300, 200), (40, 50)]:  # the last one is upscaled
        pixels = torch.randint(0, 256, (*size, 3), generator=rng, dtype=torch.uint8)
        image = Image.fromarray(pixels.numpy())
        for interp, pct in [("bilinear", 0.875), ("bicubic", 0.8975)]:
            expected = eval_transform(S, crop_pct=pct, interpolation=interp)(image)
            got = views(image, 1, image_size=S, crop_pct=pct, interpolation=interp)[0]
            assert torch.equal(got, expected), (size, interp)
        # FaceNet's input: the whole image, each view standardised on its own (prewhiten)
        facenet = eval_transform(S, 1.0, mean=None, std=None, normalize="per_image")(image)
        got = views(image, 1, image_size=S, crop_pct=1.0, mean=None, std=None)[0]
        assert torch.allclose(got, facenet, rtol=1e-5, atol=1e-5), size


def test_views_of_pil_and_uint8_tensor_agree() -> None:
    img = coordinate_image()
    u8 = torch.stack([img[0] * 255 / (W - 1), img[1] * 255 / (H - 1), img[2]]).round().byte()
    pil = Image.fromarray(u8.permute(1, 2, 0).numpy())
    for crops in (1, 12):
        assert torch.allclose(views(pil, crops, image_size=S), views(u8, crops, image_size=S),
                              atol=2 / 255)


def test_views_upscale_small_images() -> None:
    tiny = Image.new("RGB", (5, 3), (255, 0, 0))
    for crops in (1, 12, 144):
        v = views(tiny, crops, image_size=S)
        assert v.shape == (crops, 3, S, S)
        assert torch.allclose(v[:, 0], torch.ones(())) and torch.allclose(v[:, 1], -torch.ones(()))


def test_views_normalisation_and_per_image_standardisation() -> None:
    grey = Image.new("RGB", (120, 100), (51, 102, 204))
    v = views(grey, 1, image_size=S, mean=(0.2, 0.4, 0.8), std=(0.1, 0.2, 0.4))
    assert v.abs().max() < 1e-5
    noisy = Image.fromarray(torch.randint(0, 256, (100, 120, 3), dtype=torch.uint8).numpy())
    w = views(noisy, 12, image_size=S, mean=None, std=None).flatten(1)
    assert torch.allclose(w.mean(1), torch.zeros(12), atol=1e-5)
    assert torch.allclose(w.std(1, correction=0), torch.ones(12), atol=1e-4)


def test_views_bad_arguments_say_what_is_wrong() -> None:
    img = coordinate_image()
    with pytest.raises(ValueError, match="crops must be one of"):
        views(img, 10)
    with pytest.raises(ValueError, match="unknown interpolation"):
        views(img, 1, interpolation="lanczos7")
    with pytest.raises(ValueError, match="crop_pct"):
        views(img, 1, crop_pct=0.0)
