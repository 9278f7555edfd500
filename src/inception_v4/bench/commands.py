"""``inception-v4 bench``: our networks against timm's, side by side, and the input pipeline."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from ..evaluate.progress import progress
from ..inference import HAS_BF16
from ..models import list_models
from .contestants import Settings
from .runner import ratios, run_mode
from .tables import print_data, print_ratios, print_rows
from .timing import dense_limits, keep_heap, machine
from .twins import timm_available

DEFAULT_MODELS = ["inception_v4", "inception_resnet_v2"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", description="speed and memory against timm; input pipeline speed")
    p.add_argument("--model", nargs="+", default=DEFAULT_MODELS, choices=list_models(),
                   metavar="NAME", help=f"networks (default: {' '.join(DEFAULT_MODELS)})")
    p.add_argument("--compare", choices=("timm", "none"), default="timm")
    p.add_argument("--mode", choices=("infer", "train", "data", "all"), default="all")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--image-size", type=int, default=299)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per contestant (median)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    p.add_argument("--matmul-size", type=int, default=4096,
                   help="side of the square matrices of the dense-kernel limit (the convolutions "
                        "of that measurement scale with it)")
    p.add_argument("--keep-heap", action="store_true",
                   help="glibc: no mmap/trim for large allocations, whole process (all alike)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the contestants (all but ours-ckpt and ours-lean)")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak-memory child processes")
    p.add_argument("--no-compiled", dest="compiled", action="store_false",
                   help="leave out ours compiled by inductor (fp32, bf16) and int8 (each "
                        "compiles for a minute or more on 2 cores)")
    p.add_argument("--no-runtimes", dest="runtimes", action="store_false",
                   help="leave out ONNX Runtime and OpenVINO (on our exported graph)")
    p.add_argument("--no-int8", dest="int8", action="store_false",
                   help="leave out the int8 contestants (their quantization takes a while)")
    p.add_argument("--memory-runs", type=int, default=3,
                   help="fresh child processes per contestant; peak memory is their median")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="a dataset with train.tar and val.tar, e.g. Imagenette at 96 px "
                        "(--mode data; --mode all skips the pipeline without it)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-batches", type=int, default=20, help="timed batches per loader")
    p.add_argument("--data-batch-size", type=int, default=64)
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write results here")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (none either when stderr is not a terminal)")
    p.set_defaults(func=run_bench)


def _settings(args: argparse.Namespace) -> Settings:
    for flag in ("batch_size", "image_size", "threads", "repeats", "matmul_size", "memory_runs"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        raise ValueError("--warmup must be 0 or more")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: CUDA is not available here; use --device cpu")
    if args.compare == "timm" and not timm_available():
        raise ValueError("--compare timm needs timm installed (pip install timm), or pass "
                         "--compare none")
    return Settings(args.batch_size, args.image_size, args.device, args.dtype, args.threads,
                    args.warmup, args.repeats, args.compile, args.memory, args.compare,
                    args.matmul_size, args.keep_heap, args.memory_runs, args.runtimes,
                    args.int8, compiled=args.compiled)


def run_bench(args: argparse.Namespace) -> int:
    s = _settings(args)
    if s.keep_heap and not keep_heap():
        raise ValueError("--keep-heap needs Linux with glibc (mallopt); run without it")
    threads = torch.get_num_threads()
    torch.set_num_threads(s.threads)
    try:  # a caller's own thread count is theirs: `bench` then `train` in one process
        return _measure(args, s)
    finally:
        torch.set_num_threads(threads)


def _measure(args: argparse.Namespace, s: Settings) -> int:
    result: dict = {"machine": machine(s.torch_device), "settings": dataclasses.asdict(s)}
    modes = ["infer", "train"] if args.mode == "all" else [m for m in [args.mode] if m != "data"]
    if modes:
        result.update(_models(args.model, modes, s, args.quiet))
    if args.mode in ("data", "all"):
        result["data"] = _data(args)
    result["machine_after"] = machine(s.torch_device)  # the load may have changed while measuring
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0


def _limits(s: Settings) -> dict[str, dict[str, float]]:
    """Dense-kernel GFLOP/s per dtype (bf16 where this CPU has bf16 kernels)."""
    dtypes = [s.dtype] if s.dtype != "float32" else ["float32"]
    if s.dtype == "float32" and (s.torch_device.type == "cuda" or HAS_BF16):
        dtypes.append("bfloat16")
    return {d: dense_limits(s.torch_device, getattr(torch, d), s.matmul_size) for d in dtypes}


def _models(names: list[str], modes: list[str], s: Settings, quiet: bool = False) -> dict:
    """Rows for every network and mode; the dense-kernel limits measured before and after."""
    before, rows = _limits(s), []
    runs = [(name, mode) for name in names for mode in modes]
    for name, mode in progress(runs, "bench", "run", quiet=quiet):
        rows += run_mode(name, mode, s)
    after = _limits(s)
    limit = {d: max(max(before[d].values()), max(after[d].values())) for d in before}
    for r in rows:
        dtype = r["config"].get("dtype", s.dtype)
        r["peak_fraction"] = r["gflops"] / limit[dtype] if dtype in limit else None
    print_rows(rows, limit)
    pairs = ratios(rows)
    print_ratios(pairs)
    return {"dense_limits_before": before, "dense_limits_after": after, "limit_gflops": limit,
            "rows": rows, "ratios": pairs}


def _data(args: argparse.Namespace) -> list[dict]:
    from .data_bench import data_rates  # command line: imported when used

    if args.mode == "all" and (args.data is None or not Path(args.data).is_dir()):
        print("data pipeline skipped: pass --data DIR (a dataset with train.tar)")
        return []
    if args.data is None:
        raise ValueError("--mode data needs --data DIR (a dataset with train.tar and val.tar)")
    rows = data_rates(args.data, args.workers, args.data_batch_size, 96, args.data_batches)
    print_data(rows)
    return rows
