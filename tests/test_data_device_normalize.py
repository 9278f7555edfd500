"""uint8 batches normalised on the device (issue #24): the loaders and the evaluation views
carry uint8 pixels; the normaliser, run batched wherever the pixels are, gives the per-image
float transforms' tensors bit for bit on the CPU."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate
from train_helpers import make_image_folder

from inception_v4 import create_model, optimize_for_inference
from inception_v4.data import (
    ImageDataset,
    eval_transform,
    open_dataset,
    resolve_data_config,
    train_transform,
)
from inception_v4.data.normalize import Pixels
from inception_v4.data.transforms import reference_train_transform
from inception_v4.evaluate import collect_predictions, predict, view_config, views
from inception_v4.evaluate.loop import _Views
from inception_v4.evaluate.views import view_normalizer, view_pixels
from inception_v4.train import TrainConfig
from inception_v4.train.build import new_network, set_transforms
from inception_v4.train.distributed import Dist
from inception_v4.train.loaders import train_loader
from inception_v4.train.run import build_run
from inception_v4.train.step import prepare, train_step

NORMS = {"mean_std": {"mean": (0.4, 0.5, 0.6), "std": (0.2, 0.3, 0.25)},
         "per_image": {"mean": None, "std": None}}
CPU = Dist(0, 1, 0, torch.device("cpu"), False)


def _images(n: int, seed: int = 2) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (*rng.integers(20, 90, 2), 3), np.uint8))
            for _ in range(n)]


@pytest.mark.parametrize("normalize", ["mean_std", "per_image"])
def test_batched_train_normaliser_equals_the_per_image_transforms(normalize: str) -> None:
    """The colour draws travel with the uint8 crop; applied to the batch they give the stock
    torchvision pipeline's tensors and the one-image transform's, bit for bit, also in
    channels-last order."""
    ours = train_transform((40, 48), normalize=normalize, **NORMS[normalize])
    stock = reference_train_transform((40, 48), normalize=normalize, **NORMS[normalize])
    images, want, pixels = _images(12), [], []
    for seed, image in enumerate(images):
        torch.manual_seed(seed)
        want.append(stock(image))
        torch.manual_seed(seed)
        assert torch.equal(ours(image), want[-1])
        torch.manual_seed(seed)
        pixels.append(ours.geometry(image))
    batch = default_collate(pixels)
    assert isinstance(batch, Pixels) and batch.image.dtype == torch.uint8
    assert batch.colour.dtype == torch.float64 and batch.colour.shape == (12, 2)
    assert torch.equal(ours.normalizer(batch), torch.stack(want))
    last = ours.normalizer(batch, channels_last=True)
    assert last.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(last, torch.stack(want))


@pytest.mark.parametrize("normalize", ["mean_std", "per_image"])
def test_batched_eval_normaliser_equals_the_eval_transform(normalize: str) -> None:
    transform = eval_transform(37, 0.8, normalize=normalize, **NORMS[normalize])
    images = _images(6, seed=3)
    batch = torch.stack([transform.geometry(image) for image in images])
    assert batch.dtype == torch.uint8
    assert torch.equal(transform.normalizer(batch),
                       torch.stack([transform(image) for image in images]))


def test_unnormalised_dataset_is_x_over_127_5_minus_1() -> None:
    """transform None ([-1, 1], the old ``div_(127.5).sub_(1.0)``) is the one normaliser with
    mean = std = 0.5: the same float32 for every uint8 value."""
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    source = type("Source", (), {"name": lambda self, i: "grey", "__len__": lambda self: 1})()
    dataset = ImageDataset(source, [0], ["c"])
    dataset.load = lambda i, draft_size=None: Image.fromarray(values).convert("RGB")
    x, _ = dataset[0]
    want = torch.from_numpy(values).float().div_(127.5).sub_(1.0)
    assert x.dtype == torch.float32 and torch.equal(x, want.expand(3, 16, 16))


def test_normaliser_runs_where_the_pixels_are() -> None:
    """``meta`` stands for a GPU: the copy and every normalising step stay on the device
    (a CPU step would fail there), for both normalisers and the training colour steps."""
    pixels = Pixels(torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                    torch.tensor([[0.1, 0.7], [-0.1, 1.2]], dtype=torch.float64))
    meta = Dist(0, 1, 0, torch.device("meta"), False)
    for normalize in ("mean_std", "per_image"):
        norm = train_transform(8, normalize=normalize, **NORMS[normalize]).normalizer
        x = prepare(pixels, meta, channels_last=True, normalizer=norm.to("meta"))
        assert x.device.type == "meta" and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)


def _run(tmp_path: Path) -> tuple:
    data = make_image_folder(tmp_path / "data", classes=3, train=4, val=1, size=50)
    config = TrainConfig(model="inception_v4", data=str(data), width=0.25, depth=0.2,
                         image_size=75, batch_size=6, optimizer="sgd", lr=0.1, amp="off",
                         out=str(tmp_path / "run"), workers=0, seed=3)
    train, val = open_dataset(str(data), "train"), open_dataset(str(data), "val")
    normalizer = set_transforms(train, val, resolve_data_config({"input_size": (3, 75, 75)}))
    return config, train, normalizer


def test_training_batch_leaves_the_loader_as_uint8_and_trains_as_before(
        tmp_path: Path) -> None:
    """A batch is uint8 (a quarter of float32's bytes) with its float64 colour draws; two
    steps from it, normalised in the step, give the losses and weights of two steps from the
    float batches the per-image transform makes (the path before the change)."""
    config, train, normalizer = _run(tmp_path)
    loader = train_loader(train, 6, 0, 1, config.seed, 0)
    loader.sampler.set_epoch(0)
    batches = [(images, labels) for images, labels, _ in loader]
    images = batches[0][0]
    assert isinstance(images, Pixels) and images.image.dtype == torch.uint8
    assert images.image.nbytes == 6 * 3 * 75 * 75 and images.colour.nbytes == 6 * 2 * 8
    # the same samples through the float transform, one image at a time
    train.transform = train_transform(75)
    loader = train_loader(train, 6, 0, 1, config.seed, 0)
    loader.sampler.set_epoch(0)
    floats = [(x, y) for x, y, _ in loader]
    assert floats[0][0].dtype == torch.float32 and floats[0][0].nbytes == 4 * images.image.nbytes
    net = new_network(config, 3)
    old = build_run(config, CPU, copy.deepcopy(net), steps_per_epoch=2)
    new = build_run(config, CPU, net, steps_per_epoch=2)
    old.wrapped, new.wrapped, new.normalizer = old.net, new.net, normalizer
    for (x, y), (pixels, labels) in zip(floats, batches, strict=True):
        assert torch.equal(y, labels)
        assert torch.equal(train_step(old, x, y), train_step(new, pixels, labels))
    for a, b in zip(old.net.state_dict().values(), new.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_144_crop_views_are_uint8_and_evaluation_gives_the_float_views_probabilities(
        tmp_path: Path) -> None:
    """One image's 144 crops cross as uint8 (144·3·S² bytes); the probabilities equal those
    of the float views normalised on the CPU (as before), for a plain network and for the
    channels-last inference graph (its input is made channels-last on the device)."""
    data = make_image_folder(tmp_path / "data", classes=3, train=1, val=1, size=60)
    dataset = open_dataset(str(data), "val")
    torch.manual_seed(0)
    plain = create_model("inception_v4", num_classes=3, width=0.25, depth=0.2).eval()
    plain.pretrained_cfg = {**plain.pretrained_cfg, "input_size": (3, 75, 75)}
    fused = optimize_for_inference(copy.deepcopy(plain))
    fused.pretrained_cfg = plain.pretrained_cfg
    cfg = view_config(plain)
    _, (pixels,), _ = _Views(dataset, [0], 144, [cfg])[0]
    assert pixels.dtype == torch.uint8 and pixels.nbytes == 144 * 3 * 75 * 75
    image = dataset.load(0)
    assert torch.equal(view_normalizer(cfg["mean"], cfg["std"])(pixels), views(image, 144, **cfg))
    for model in (plain, fused):
        want = torch.stack([predict(model, views(dataset.load(i), 144, **cfg), 144)
                            for i in range(len(dataset))])
        got = collect_predictions(model, dataset, 144, batch_size=144)
        assert torch.equal(got.top_prob, want.topk(3, dim=1).values)
    assert torch.equal(view_pixels(pixels[0], 1, image_size=75, crop_pct=1.0), pixels[:1])
