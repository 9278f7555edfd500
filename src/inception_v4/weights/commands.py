"""``inception-v4 convert SRC DST``: any supported weights → our format."""

from __future__ import annotations

import argparse
import warnings

from .pretrained import save_pretrained
from .resolve import resolve_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", description="convert timm/Cadene, facenet-pytorch, FaceNet Keras or Keras "
                        "applications InceptionResNetV2 weights (or our folder) to "
                        "config.json + model.safetensors")
    p.add_argument("src", help="weights file or folder, or timm:NAME / hf-hub:ORG/NAME")
    p.add_argument("dst", help="output folder")
    p.add_argument("--model", default=None,
                   help="registry name (default: the one the weights belong to)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classes of the new model (default: the source's; 1000 from a "
                        "1001-class TF-slim head drops the background class; any other "
                        "count puts a new, freshly initialised head on the network)")
    p.add_argument("--ema", action="store_true",
                   help="a training checkpoint's (or run folder's) averaged weights")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as notes:  # shown as plain lines
        warnings.simplefilter("always")
        model = resolve_model(args.src, name=args.model, ema=args.ema,
                              num_classes=args.num_classes)
    for note in notes:
        print(f"note: {note.message}")
    out = save_pretrained(model, args.dst, source=str(args.src))
    head = (f"{model.num_classes}-d embedding" if model.spec.head == "embedding"
            else f"{model.num_classes} classes")
    print(f"wrote {out} ({model.spec.name}, {head}, "
          f"{sum(p.numel() for p in model.parameters()):,d} parameters) from {args.src} "
          f"({model.weights_kind})")
    return 0
