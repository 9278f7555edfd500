"""Fine-tune pretrained weights on a folder of your images, through the API that
``inception-v4 train --pretrained W --data DATA`` uses, then save the result.

    python examples/finetune_folder.py DATA --weights W --out runs/finetuned
    python examples/finetune_folder.py DATA --weights W --freeze none  # every layer

DATA is anything ``inception_v4.data.open_dataset`` reads (``train/`` and ``val/`` class
folders, one tree of class folders, ``train.tar`` + ``val.tar``). W is anything
``--weights`` takes: our folder, a run folder, timm/Cadene, FaceNet and Keras files,
``timm:NAME``. The network, its image size and preprocessing come from W; the head follows
DATA's classes. It is a normal training run (``fit``): checkpoints, exact resume,
``eval.csv``, ``curves.png``. The fine-tuned network is then saved with its class names
(``OUT/model``), for ``predict``, ``export`` and ``load_model``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import inception_v4
from inception_v4.train import fit, load_preset
from inception_v4.weights import load_model


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="image folder or tars")
    p.add_argument("--weights", required=True, help="the pretrained weights to start from")
    p.add_argument("--out", default="runs/finetuned", help="the run folder")
    p.add_argument("--freeze", default=None,
                   help="features (the preset's: the head alone), none or stages:N")
    p.add_argument("--image-size", type=int, default=0, help="default: the weights' own")
    p.add_argument("--epochs", type=float, default=10.0)
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preset = load_preset("finetune")  # the preset `train --pretrained` uses (docs/recipe.md)
    config = dataclasses.replace(
        preset, model="", pretrained=args.weights, data=args.data, out=args.out,
        freeze=args.freeze or preset.freeze, image_size=args.image_size or preset.image_size,
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
        reference_batch=args.batch_size, workers=args.workers)
    result = fit(config)
    print(f"val top-1 accuracy {1 - result['top1_err']:.3f} after {result['steps']} steps")
    model = load_model(args.out)  # the run's network, with its class names
    saved = inception_v4.save_pretrained(model, Path(args.out) / "model", source=args.weights)
    print(f"saved to {saved} ({model.spec.name}, classes "
          f"{', '.join(model.pretrained_cfg['label_names'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
