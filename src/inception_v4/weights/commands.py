"""``inception-v4 convert SRC DST``: any supported weights → our format."""

from __future__ import annotations

import argparse

from .pretrained import infer_num_classes, layout_for, load_weights, resolve_source, save_pretrained
from .sources import read_weights


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
                        "1001-class TF-slim head drops the background class)")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from ..models import create_model

    w = read_weights(resolve_source(args.src))
    name = args.model or (w.config or {}).get("model") or w.fits
    if name is None:
        raise ValueError(f"{args.src}: cannot tell which model these weights are for; "
                         f"pass --model NAME")
    init_args = dict((w.config or {}).get("init_args", {})) if w.config else {}
    if args.num_classes is not None:
        init_args["num_classes"] = args.num_classes
    elif w.config is None:
        init_args["num_classes"] = infer_num_classes(w, layout_for(w, name))
    model = create_model(name, **init_args)
    load_weights(model, w)
    out = save_pretrained(model, args.dst, source=str(args.src))
    print(f"wrote {out} ({name}, {model.num_classes} classes, "
          f"{sum(p.numel() for p in model.parameters()):,d} parameters) from {w.path} "
          f"({w.convention} weights)")
    return 0
