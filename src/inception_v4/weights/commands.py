"""``inception-v4 convert SRC DST``: any supported weights → our format."""

from __future__ import annotations

import argparse

from torch import nn

from .hub import is_hub_source
from .pretrained import infer_num_classes, layout_for, load_weights, resolve_source, save_pretrained
from .sources import Weights, read_weights


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="convert timm/Cadene, facenet-pytorch, FaceNet Keras or Keras "
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
    from .checkpoints import model_from_checkpoint, read_training_checkpoint

    checkpoint = None if is_hub_source(args.src) else read_training_checkpoint(args.src)
    if checkpoint is not None:
        model = model_from_checkpoint(*checkpoint, name=args.model, ema=args.ema)
        what = f"{checkpoint[0]} (training checkpoint{', averaged weights' if args.ema else ''})"
    elif args.ema:
        raise ValueError(f"--ema needs a training checkpoint or run folder; {args.src} is not one")
    else:
        model, w = _convert_weights(args)
        what = f"{w.path} ({w.convention} weights)"
    if args.num_classes is not None and args.num_classes != model.num_classes:
        print(f"new {args.num_classes}-class head (the source has {model.num_classes} "
              f"classes): freshly initialised, to be trained")
        model.reset_classifier(args.num_classes)
    out = save_pretrained(model, args.dst, source=str(args.src))
    name = model.spec.name
    print(f"wrote {out} ({name}, {model.num_classes} classes, "
          f"{sum(p.numel() for p in model.parameters()):,d} parameters) from {what}")
    return 0


def _convert_weights(args: argparse.Namespace) -> tuple[nn.Module, Weights]:
    """The model the weights belong to (or ``--model``), loaded. Its classes are the
    source's, except 1000 asked of a 1001-class TF-slim head (background dropped)."""
    from ..models import create_model

    w = read_weights(resolve_source(args.src))
    name = args.model or (w.config or {}).get("model") or w.fits
    if name is None:
        raise ValueError(f"{args.src}: cannot tell which model these weights are for; "
                         f"pass --model NAME")
    init_args = dict((w.config or {}).get("init_args", {})) if w.config else {}
    if w.config is None:
        init_args["num_classes"] = infer_num_classes(w, layout_for(w, name))
    if args.num_classes == 1000 and init_args.get("num_classes") == 1001:
        init_args["num_classes"] = 1000
    model = create_model(name, **init_args)
    load_weights(model, w)
    return model, w
