"""``make demo``: about five minutes of training on 2 CPU cores, then a summary.

Trains a width-reduced Inception-ResNet-v2 (width 0.25, depth 0.2, 75×75 inputs) with the
``small`` preset's recipe on the ``embedded`` dataset (Fashion-MNIST from the Debian package
``dataset-fashion-mnist``, which ``make demo`` installs with apt-get when run as root: this
module never changes the system; scikit-learn's digits when it is missing), evaluates raw and
averaged weights on a fixed 1,000-image subset of the val split several times, writes
``curves.png`` and prints top-1/top-5 error, images/s and where the files are.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from .data import open_dataset
from .experiments.dryrun import measured_rate
from .models import network_from_args
from .train import TrainConfig, fit, load_preset
from .train.commands import format_summary


def demo_config(out: str, minutes: float) -> TrainConfig:
    """The small preset's recipe on a width-reduced Inception-ResNet-v2 at 75×75."""
    return dataclasses.replace(
        load_preset("small"), model="inception_resnet_v2", data="embedded", out=out,
        width=0.25, depth=0.2, image_size=75, batch_size=32, lr=0.1, reference_batch=32,
        warmup_epochs=0.0, max_minutes=1.25 * minutes, eval_max_images=1000, workers=1,
        resume="never", log_every=25)


def plan(config: TrainConfig, minutes: float) -> TrainConfig:
    """Fit the one-cycle schedule and the evaluations into ``minutes`` of training."""
    train = open_dataset(config.data, "train", seed=config.seed)
    model = network_from_args(config.model, config.model_args(train.num_classes))
    ips = 0.7 * measured_rate(model, config.image_size, config.batch_size, "cpu", steps=4)
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
    config = plan(demo_config(args.out, args.minutes), args.minutes)
    started = time.monotonic()
    result = fit(config, command=["python", "-m", "inception_v4.demo", *(argv or sys.argv[1:])])
    print(format_summary(result))
    print(f"demo: {(time.monotonic() - started) / 60:.1f} minutes in all; curves in "
          f"{result['curves']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
