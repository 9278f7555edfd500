"""Multi-scale features for detection: ``features_only=True`` and a torchvision FPN on top.

    python examples/features_for_detection.py --model inception_resnet_v2 --input-size 320 480
    python examples/features_for_detection.py --weights W --out-indices 2 3 4

Prints, for each feature level, the module it is taken from, its channels and reduction as
``feature_info`` declares them, the shape actually produced and the measured stride (input
side / map side). The networks pad nothing on their stride-2 layers ("V" in the figures), so a
map is a little smaller than input / reduction (299 → 149 → 73 → 35 → 17 → 8).
"""

from __future__ import annotations

import argparse
import sys
from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops import FeaturePyramidNetwork

import inception_v4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="inception_v4", choices=inception_v4.list_models())
    p.add_argument("--weights", help="anything create_model(pretrained=...) reads")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--depth", type=float, default=1.0)
    p.add_argument("--input-size", type=int, nargs=2, default=(320, 480), metavar=("H", "W"))
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--out-indices", type=int, nargs="+", default=(1, 2, 3, 4),
                   help="levels 0..4 = reductions 2, 4, 8, 16, 32")
    p.add_argument("--fpn-channels", type=int, default=256, help="0: no FPN")
    return p.parse_args(argv)


def feature_table(backbone: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], list[dict]]:
    """The feature maps for ``x`` and one row per level: declared vs. produced."""
    with torch.no_grad():
        maps = backbone(x)
    rows = []
    for info, m in zip(backbone.feature_info, maps, strict=True):
        rows.append({**info, "shape": tuple(m.shape),
                     "stride": (x.shape[-2] / m.shape[-2], x.shape[-1] / m.shape[-1])})
    return maps, rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backbone = inception_v4.create_model(
        args.model, width=args.width, depth=args.depth, pretrained=args.weights,
        features_only=True, out_indices=tuple(args.out_indices)).eval()
    x = torch.randn(args.batch_size, 3, *args.input_size)
    maps, rows = feature_table(backbone, x)
    print(f"{args.model} features for a {args.input_size[0]}x{args.input_size[1]} input")
    print(f"{'module':14s} {'channels':>8s} {'reduction':>9s} {'shape':>22s} {'stride':>13s}")
    for r in rows:
        stride = f"{r['stride'][0]:.2f}x{r['stride'][1]:.2f}"
        print(f"{r['module']:14s} {r['num_chs']:>8d} {r['reduction']:>9d} "
              f"{str(r['shape']):>22s} {stride:>13s}")
    if args.fpn_channels:
        fpn = FeaturePyramidNetwork(backbone.feature_info.channels(), args.fpn_channels).eval()
        with torch.no_grad():
            pyramid = fpn(OrderedDict((r["module"], m) for r, m in zip(rows, maps, strict=True)))
        print(f"FPN ({args.fpn_channels} channels):")
        for name, level in pyramid.items():
            print(f"  {name:12s} {tuple(level.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
