"""The flags ``evaluate``, ``ensemble``, ``predict`` and ``compare`` share: one definition each
(``--runtime`` stays in :mod:`.commands`, which may import the runtimes)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..data.eval_set import EVAL_SPLITS
from .views import CROP_COUNTS

WEIGHTS_HELP = ("our folder (config.json + model.safetensors), a training checkpoint (.pt) or "
                "its run folder, or any file/timm:NAME create_model(pretrained=...) reads")


def add_inference_args(p: argparse.ArgumentParser) -> None:
    """``--dtype``, ``--compile`` and ``--calibration`` of predict, evaluate and ensemble."""
    p.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32",
                   help="bfloat16: the fused graph computing in bf16 (float32 in and out); "
                        "int8: quantized after calibration (needs --calibration; compiled)")
    p.add_argument("--compile", action="store_true",
                   help="compile the fused graph with inductor (CPU; tens of seconds at the "
                        "first start, less with inductor's cache)")
    p.add_argument("--calibration", default=None, metavar="DATA",
                   help="int8: data to calibrate on (anything --data or predict reads; its "
                        "training part where it has one); 256 images are drawn from it")


def inference_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The inference path the flags ask for (:func:`.loading.load_for_eval`'s keywords)."""
    return {"dtype": args.dtype, "compile": args.compile, "calibration": args.calibration}


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``."""
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either when stderr is not a terminal)")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """The data and run flags of ``evaluate`` and ``ensemble`` (with the inference flags)."""
    add_inference_args(p)
    add_quiet(p)
    p.add_argument("--data", required=True,
                   help="the evaluation set: a folder of class folders (every image); a folder "
                        "with train/ and val/ (or test/), or train.tar and val.tar (its val "
                        "part); a flat folder of ILSVRC2012_val_%%08d.JPEG images with "
                        "--labels; a folder with ILSVRC2012_img_val.tar and "
                        "ILSVRC2012_devkit_t12.tar.gz; or embedded")
    p.add_argument("--split", choices=EVAL_SPLITS, default="auto",
                   help="auto (default): every image of a single class-folder tree or flat "
                        "set, the val part beside a train part; val: the val part (of a single "
                        "tree, the 10%% training holds out); train: the train part; all: "
                        "every image of every part")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="labels of a flat ILSVRC-2012 validation folder or "
                        "ILSVRC2012_img_val.tar: Caffe's val.txt (filename label, sorted-wnid "
                        "order), the devkit's ILSVRC2012_validation_ground_truth.txt (meta.mat "
                        "beside it), the devkit folder, or ILSVRC2012_devkit_t12.tar.gz")
    p.add_argument("--crops", type=int, choices=CROP_COUNTS, default=1,
                   help="1: central crop; 12: one scale, centre square, 6 crops + mirrors; "
                        "144: GoogLeNet's 4 scales x 3 squares x 6 crops x 2")
    p.add_argument("--ema", action="store_true",
                   help="use a training checkpoint's averaged weights (the paper evaluates "
                        "the running average)")
    p.add_argument("--blacklist", default=None, metavar="FILE",
                   help="ILSVRC-2014 blacklist (one 1-based val index per line): also report "
                        "the non-blacklisted subset")
    p.add_argument("--batch-size", type=int, default=32, help="views per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="image decoding processes (0: in the main process)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="evaluate N images evenly spaced over the set (quick checks)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable images (listed in the output) instead of stopping")
    p.add_argument("--by-index", action="store_true",
                   help="score by class index even when the weights' class names are not the "
                        "data's (normally an error)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON")
    p.add_argument("--report", default=None, metavar="DIR",
                   help="failure analysis: per-class accuracy, confusions, worst images")
