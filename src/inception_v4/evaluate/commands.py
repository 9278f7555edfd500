"""``inception-v4 evaluate``, ``inception-v4 ensemble`` and ``inception-v4 predict``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import BadImageError, decode_image, open_eval_dataset
from ..data.image_sources import image_files
from ..models import list_models
from ..runtimes import RUNTIMES, check_runtime, on_runtime
from . import embeddings
from .arguments import WEIGHTS_HELP, add_inference_args, add_quiet, add_run_args, inference_kwargs
from .blacklist import blacklist_mask, read_blacklist
from .calibration import calibration_batches
from .classes import check_class_names
from .embeddings import SAME_FACE_THRESHOLD, embed, is_embedding, preview, squared_distance
from .failures import write_report
from .loading import class_names, load_for_eval
from .loop import collect_predictions, summarize_predictions, view_config
from .paper import published_beside
from .predict import predict
from .printing import print_table
from .progress import progress
from .views import CROP_COUNTS, crop_definition, split_view_config, view_pixels

# Errors and accuracies in the JSON are fractions, as in every file the project writes.
UNIT = "fraction (0-1) for errors and accuracies"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate",
                       description="top-1/top-5 error at 1, 12 or 144 crops (Tables 2-4)")
    p.add_argument("--model", default=None,
                   help="registry name (default: the one the weights' config names)")
    p.add_argument("--weights", required=True, metavar="W", help=WEIGHTS_HELP)
    add_run_args(p)
    _add_runtime(p)
    p.set_defaults(func=run_evaluate)
    p = sub.add_parser("ensemble", description="average several models' probabilities (Table 5)")
    p.add_argument("--member", action="append", required=True, metavar="[NAME=]W",
                   help="one member (repeat): registry name = weights, or weights alone when "
                        "they carry their config")
    add_run_args(p)
    _add_runtime(p)
    p.set_defaults(func=run_ensemble)
    p = sub.add_parser("predict", description="top-k classes of images (an embedding network: "
                                       "their embeddings)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of them")
    p.add_argument("--model", default=None, help="registry name (default: from the weights)")
    p.add_argument("--weights", required=True, metavar="W", help=WEIGHTS_HELP)
    p.add_argument("--ema", action="store_true", help="a checkpoint's averaged weights")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--crops", type=int, choices=CROP_COUNTS, default=1)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    add_inference_args(p)
    _add_runtime(p)
    p.add_argument("--json", default=None, metavar="OUT", help="also write the results here")
    p.add_argument("--embeddings", default=None, metavar="OUT",
                   help="an embedding network's vectors as OUT.npy (N x D) or OUT.csv")
    add_quiet(p)
    p.set_defaults(func=run_predict)
    p = sub.add_parser("compare", description="are two face images the same person? (an embedding "
                                       "network: FaceNet)")
    p.add_argument("image_a", metavar="IMAGE_A")
    p.add_argument("image_b", metavar="IMAGE_B")
    p.add_argument("--model", default=None, help="registry name (default: from the weights)")
    p.add_argument("--weights", required=True, metavar="W", help=WEIGHTS_HELP)
    p.add_argument("--threshold", type=float, default=SAME_FACE_THRESHOLD,
                   help="squared L2 distance of the unit-length embeddings below which two "
                        "faces are the same person (default 1.1: FaceNet paper, Fig. 1; "
                        "calibrate on your own pairs)")
    p.add_argument("--crops", type=int, choices=CROP_COUNTS, default=1)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.set_defaults(func=run_compare)


def _add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=RUNTIMES, default="torch",
                   help="what runs the network's forward pass: torch (default), or ONNX "
                        "Runtime (float32, int8) / OpenVINO (float32, bfloat16, int8) on our "
                        "exported graph, on the CPU; preprocessing and crops are the same "
                        "(pip install 'inception-v4[runtimes]')")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available here; use --device cpu")
    return torch.device(name)


def load_model(name: str | None, weights: str,
               args: argparse.Namespace) -> tuple[nn.Module, dict[str, Any]]:
    """:func:`load_for_eval` (``--ema``, ``--dtype``, ``--compile``, ``--calibration``) on
    ``--device``, its forward on ``--runtime`` (ONNX Runtime and OpenVINO run on the CPU:
    ``--device auto`` is the CPU; int8 calibrates on the same images torch's int8 does)."""
    if args.runtime == "torch":
        return load_for_eval(name, weights, ema=args.ema, device=resolve_device(args.device),
                             **inference_kwargs(args))
    check_runtime(args.runtime, args.dtype)
    if args.device not in ("auto", "cpu"):
        raise ValueError(f"--runtime {args.runtime} runs on the CPU; drop --device "
                         f"{args.device}, or use --runtime torch on {args.device}")
    if args.compile:
        raise ValueError(f"--compile is for --runtime torch; {args.runtime} compiles its own "
                         f"graph")
    if (args.dtype == "int8") != (args.calibration is not None):
        raise ValueError("--dtype int8 needs --calibration DATA, and --calibration is for "
                         "--dtype int8 only")
    model, info = load_for_eval(name, weights, ema=args.ema, device="cpu")
    calibration = (torch.cat(calibration_batches(args.calibration, model))
                   if args.dtype == "int8" else None)
    return (on_runtime(model, args.runtime, args.dtype, calibration=calibration),
            {**info, "dtype": args.dtype})


def run_evaluate(args: argparse.Namespace) -> int:
    model, info = load_model(args.model, args.weights, args)
    header = {"model": info["model"], "weights": info["weights"], "ema": args.ema,
              "weights_kind": info["kind"], "dtype": args.dtype, "runtime": args.runtime,
              "compiled": info["compiled"]}
    return _evaluate_and_print(args, [model], header)


def parse_member(spec: str) -> tuple[str | None, str]:
    """``NAME=W`` → (NAME, W) when NAME is a registry name; otherwise (None, spec)."""
    name, sep, rest = spec.partition("=")
    if sep and name in list_models():
        return name, rest
    if sep and "/" not in name and not Path(spec).exists():
        raise ValueError(f"--member {spec}: {name!r} is not a model name; use NAME=W with NAME "
                         f"one of {', '.join(list_models())}, or W alone")
    return None, spec


def run_ensemble(args: argparse.Namespace) -> int:
    models, members = [], []
    for spec in args.member:
        name, weights = parse_member(spec)
        model, info = load_model(name, weights, args)
        models.append(model)
        members.append({"model": info["model"], "weights": info["weights"],
                        "weights_kind": info["kind"]})
    header = {"model": f"ensemble of {len(models)}", "members": members, "ema": args.ema,
              "dtype": args.dtype, "runtime": args.runtime, "compiled": info["compiled"],
              "rule": "arithmetic mean of softmax probabilities over crops, then members"}
    return _evaluate_and_print(args, models, header)


def _label_space(models: list[nn.Module]) -> int | None:
    """The classes a labels file without class names indexes: the first model's, less the
    background class of 1001-class (TF-slim) weights."""
    k = getattr(models[0], "num_classes", None)
    return 1000 if k == 1001 else k


def _evaluate_and_print(args: argparse.Namespace, models: list[nn.Module],
                        header: dict[str, Any]) -> int:
    listed = read_blacklist(args.blacklist) if args.blacklist else None
    dataset, data_info = open_eval_dataset(args.data, args.split, args.labels,
                                           num_classes=_label_space(models))
    for model in models:
        if is_embedding(model):
            raise ValueError(f"{model.spec.name} is an embedding network ({model.num_classes}-d "
                             f"vectors, no classes): use predict --embeddings or compare")
        names = getattr(dataset, "wnids", None) or dataset.classes  # ILSVRC layouts: wnids
        check_class_names(model.pretrained_cfg.get("label_names"), model.num_classes, names,
                          by_index=args.by_index)
    if listed is not None:  # unmatchable names: fail before hours of evaluation
        blacklist_mask([dataset.name(i) for i in range(len(dataset))], listed)
    pred = collect_predictions(models, dataset, args.crops, batch_size=args.batch_size,
                               skip_bad=args.skip_bad, limit=args.limit, workers=args.workers,
                               progress=not args.quiet)
    result = {**header, "unit": UNIT, "data": str(args.data), **data_info,
              "images_total": len(dataset),
              **summarize_predictions(pred, args.crops, dataset, listed)}
    result["images_skipped"] = len(pred.skipped)
    names = [m["model"] for m in header.get("members", [header])]
    result["published"] = published_beside(result, names, getattr(models[0], "num_classes", None),
                                           getattr(dataset, "num_classes", 0))
    if args.blacklist:
        result["blacklist"] = str(args.blacklist)
    if args.report:
        result["report"] = write_report(pred, dataset, args.report)
    print_table(result)
    for name in result["skipped"]:
        print(f"skipped unreadable image: {name}", file=sys.stderr)
    if args.json:
        _write_json(args.json, result)
    return 0


def _write_json(path: str, obj: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def _read_image(path: str, failed: list[dict[str, str]]) -> Any:
    """The decoded image, or None after reporting why not (one bad file does not stop)."""
    try:
        return decode_image(Path(path).read_bytes(), path)
    except (OSError, BadImageError) as err:
        print(f"inception-v4 predict: error: {err}", file=sys.stderr)
        failed.append({"image": path, "error": str(err)})
        return None


def run_predict(args: argparse.Namespace) -> int:
    if args.topk < 1:
        raise ValueError(f"--topk must be >= 1, got {args.topk}")
    model, info = load_model(args.model, args.weights, args)
    embedding = is_embedding(model)
    if args.embeddings and not embedding:
        raise ValueError(f"--embeddings: {info['model']} is a classifier; its predict output "
                         f"is classes (--json)")
    names = class_names(model.num_classes, info["classes"])
    (geometry, norm), out, failed, vectors = split_view_config(view_config(model)), [], [], []
    paths = image_files(args.images)
    for path in progress(paths, "predict", "image", quiet=args.quiet or len(paths) < 10):
        image = _read_image(path, failed)
        if image is None:
            continue
        if embedding:
            vectors.append(embed(model, view_pixels(image, args.crops, **geometry), norm))
            print(f"{path}\n  {len(vectors[-1])}-d embedding (unit length): "
                  f"{preview(vectors[-1])}")
            out.append({"image": path, "embedding": vectors[-1].tolist()})
            continue
        probs = predict(model, view_pixels(image, args.crops, **geometry), normalizer=norm)
        top = probs.topk(min(args.topk, len(probs)))
        rows = [{"class": int(c), "name": names[int(c)], "probability": float(p)}
                for p, c in zip(top.values, top.indices, strict=True)]
        print(path)
        for rank, r in enumerate(rows, start=1):
            print(f"  {rank}. {r['name']} ({r['class']})  {r['probability']:.4f}")
        out.append({"image": path, "top": rows})
    if args.embeddings and vectors:
        kept = [o["image"] for o in out]
        print(f"wrote {embeddings.write_embeddings(args.embeddings, kept, torch.stack(vectors))}")
    if args.json:
        _write_json(args.json, {"model": info["model"], "weights": info["weights"],
                                "dtype": args.dtype, "runtime": args.runtime,
                                "output": "embedding" if embedding
                                else "classes", "crops": args.crops, "crop_definition":
                                crop_definition(args.crops), "predictions": out,
                                "errors": failed})
    return 2 if failed else 0


def run_compare(args: argparse.Namespace) -> int:
    model, info = load_for_eval(args.model, args.weights, device=resolve_device(args.device))
    if not is_embedding(model):
        raise ValueError(f"compare needs an embedding network (FaceNet's "
                         f"inception_resnet_v1_facenet); {args.weights} holds the classifier "
                         f"{info['model']}: use predict")
    (geometry, norm), failed = split_view_config(view_config(model)), []
    images = [_read_image(path, failed) for path in (args.image_a, args.image_b)]
    if failed:
        return 2
    a, b = (embed(model, view_pixels(image, args.crops, **geometry), norm) for image in images)
    distance = squared_distance(a, b)
    same = distance < args.threshold
    print(f"squared distance {distance:.4f} between the unit-length embeddings (threshold "
          f"{args.threshold:g}): {'the same person' if same else 'different people'}")
    return 0
