"""``make demo``: about five minutes of training on 2 CPU cores, then a summary.

Trains a width-reduced Inception-ResNet-v2 (width 0.25, depth 0.2, 75×75 inputs) with the
``small`` preset's recipe on the ``embedded`` dataset (Fashion-MNIST; scikit-learn's digits
when the Debian package ``dataset-fashion-mnist`` is missing and cannot be installed),
evaluates raw and averaged weights on a fixed 1,000-image subset of the val split several
times, writes ``curves.png`` and prints top-1/top-5 error, images/s and where the files are.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import time

import torch

from .data import open_dataset
from .data.embedded import FASHION_MNIST_DIR
from .models import create_model
from .train import TrainConfig, fit, load_preset
from .train.commands import format_summary


def _have_fashion() -> bool:
    return all(any(FASHION_MNIST_DIR.glob(f"{kind}-ubyte*"))
               for kind in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3",
                            "t10k-labels-idx1"))


def ensure_fashion_mnist() -> bool:
    """True when Fashion-MNIST is there, installing ``dataset-fashion-mnist`` as root."""
    if _have_fashion():
        return True
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("demo: installing dataset-fashion-mnist with apt-get ...", flush=True)
        try:
            subprocess.run(["apt-get", "install", "-y", "dataset-fashion-mnist"], check=False,
                           timeout=600, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as err:
            print(f"demo: apt-get failed ({err})", flush=True)
    if _have_fashion():
        return True
    print(f"demo: Fashion-MNIST is not in {FASHION_MNIST_DIR} and could not be installed "
          "(run `apt-get install dataset-fashion-mnist` as root to get it); falling back to "
          "scikit-learn's digits (1,797 8x8 images, 10 classes)", flush=True)
    return False


def demo_config(out: str, minutes: float) -> TrainConfig:
    """The small preset's recipe on a width-reduced Inception-ResNet-v2 at 75×75."""
    return dataclasses.replace(
        load_preset("small"), model="inception_resnet_v2", data="embedded", out=out,
        width=0.25, depth=0.2, image_size=75, batch_size=32, lr=0.1, reference_batch=32,
        warmup_epochs=0.0, max_minutes=1.25 * minutes, eval_max_images=1000, workers=1,
        resume="never", log_every=25)


def measure_images_per_s(config: TrainConfig, num_classes: int, steps: int = 4) -> float:
    """Training images/s of the model alone (forward + backward + SGD step), 2 warm-up."""
    model = create_model(config.model, num_classes=num_classes, width=config.width,
                         depth=config.depth)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(config.batch_size, 3, config.image_size, config.image_size)
    y = torch.randint(0, num_classes, (config.batch_size,))
    for i in range(steps + 2):
        if i == 2:
            start = time.perf_counter()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    return steps * config.batch_size / (time.perf_counter() - start)


def plan(config: TrainConfig, minutes: float) -> TrainConfig:
    """Fit the one-cycle schedule and the evaluations into ``minutes`` of training."""
    train = open_dataset(config.data, "train", seed=config.seed)
    ips = 0.7 * measure_images_per_s(config, train.num_classes)  # loading and eval cost
    epochs = min(30.0, minutes * 60 * ips / len(train))
    steps = max(int(epochs * len(train) / config.batch_size), 10)
    print(f"demo: {len(train)} training images, about {ips:.0f} images/s: planning "
          f"{epochs:.2f} epochs ({steps} steps) in {minutes:g} minutes", flush=True)
    return dataclasses.replace(config, epochs=epochs, eval_every_steps=max(steps // 5, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inception_v4.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    args = parser.parse_args(argv)
    ensure_fashion_mnist()
    config = plan(demo_config(args.out, args.minutes), args.minutes)
    started = time.monotonic()
    result = fit(config, command=["python", "-m", "inception_v4.demo", *(argv or sys.argv[1:])])
    print(format_summary(result))
    print(f"demo: {(time.monotonic() - started) / 60:.1f} minutes in all; curves in "
          f"{result['curves']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
