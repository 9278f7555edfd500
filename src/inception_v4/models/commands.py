"""``inception-v4 models`` and ``inception-v4 info MODEL``."""

from __future__ import annotations

import argparse

import torch

from .complexity import count_macs, count_params, stage_table
from .registry import build_network, get_spec, list_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", description="list the networks with parameters and GMACs")
    p.set_defaults(func=run_models)
    p = sub.add_parser("info", description="the stage table of one network: shapes, params, MACs")
    p.add_argument("model", help="registry name (see `inception-v4 models`)")
    p.add_argument("--image-size", type=int, default=None, help="input side (default: model's)")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--depth", type=float, default=1.0)
    p.add_argument("--num-classes", type=int, default=None)
    p.set_defaults(func=run_info)


def run_models(args: argparse.Namespace) -> int:
    print(f"{'model':30s} {'params':>12s} {'GMACs':>7s} {'input':>7s}")
    for name in list_models():
        with torch.device("meta"):  # counts need shapes only: no weights, no arithmetic
            model = build_network(name)
        size = get_spec(name).input_size
        gmacs = count_macs(model, size) / 1e9
        print(f"{name:30s} {count_params(model):>12,d} {gmacs:>7.2f} {size:>3d}x{size:<3d}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    size = args.image_size or spec.input_size
    with torch.device("meta"):  # counts need shapes only: no weights, no arithmetic
        model = build_network(args.model, width=args.width, depth=args.depth,
                              num_classes=args.num_classes)
    rows = stage_table(model, size)
    print(f"{args.model} at {size}x{size} (width {args.width}, depth {args.depth})")
    print(f"{'figure':20s} {'block':18s} {'rep':>3s} {'declared':>14s} {'actual':>14s} "
          f"{'params':>12s} {'MMACs':>9s}")
    for r in rows:
        declared = "x".join(map(str, r.declared)) if r.declared else "-"
        actual = "x".join(map(str, r.actual))
        print(f"{r.figure:20s} {r.block:18s} {r.repeats:>3d} {declared:>14s} {actual:>14s} "
              f"{r.params:>12,d} {r.macs / 1e6:>9.1f}")
    head = count_params(model) - sum(r.params for r in rows)
    print(f"{'head':20s} {'':18s} {'':>3s} {'':>14s} {'':>14s} {head:>12,d}")
    print(f"total parameters {count_params(model):,d}; "
          f"multiply-adds {count_macs(model, size):,d}")
    return 0
