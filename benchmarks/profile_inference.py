"""Where inference time goes: torch.profiler over our eager fused graph and the same graph
compiled by inductor (freezing, channels-last), float32 or bf16; int8 (PT2E) compiled only.

    python benchmarks/profile_inference.py [--model inception_v4] [--batch 8] [--threads 2]
                                           [--dtype {float32,bfloat16,int8}]

Seeded weights with BatchNorm statistics from one training-mode pass (as ``bench``), then
``--iters`` profiled forward passes of each after two warm-up passes. Prints the ops by self
CPU time and the shares of four kinds: convolutions (oneDNN, with their fused ReLU/sum), the
filter concats and copies (aten::cat, copy_, inductor's ``cpp_fused_cat_*``/``clone``
kernels), pools, and the rest.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch._inductor import config as inductor_config
from torch.profiler import ProfilerActivity, profile

from inception_v4.bench.contestants import calibrate_bn
from inception_v4.inference import optimize_for_inference
from inception_v4.models import build_network

KINDS = (("convolution", ("conv",)), ("concat/copy", ("cat", "copy", "clone", "contiguous")),
         ("pool", ("pool",)))


def kind(name: str) -> str:
    low = name.lower()
    for label, keys in KINDS:
        if any(k in low for k in keys):
            return label
    return "other"


def profiled(fn, x: torch.Tensor, iters: int) -> list[tuple[str, float]]:  # noqa: ANN001
    for _ in range(2):
        fn(x)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            fn(x)
    ops = [(e.key, e.self_cpu_time_total / 1e3 / iters) for e in prof.key_averages()]
    return sorted((op for op in ops if op[1] > 0), key=lambda op: -op[1])


def report(label: str, ops: list[tuple[str, float]], top: int) -> None:
    total = sum(ms for _, ms in ops)
    shares: dict[str, float] = defaultdict(float)
    for name, ms in ops:
        shares[kind(name)] += ms
    print(f"\n{label}: {total:.0f} ms per batch (self CPU time, summed over ops)")
    print("  " + ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in
                           sorted(shares.items(), key=lambda kv: -kv[1])))
    for name, ms in ops[:top]:
        print(f"  {ms:8.2f} ms  {100 * ms / total:5.1f} %  {name[:90]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="inception_v4")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=299)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_network(args.model)
    calibrate_bn(model, torch.randn(4, 3, args.size, args.size,
                                    generator=torch.Generator().manual_seed(1)))
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    if args.dtype != "int8":  # int8 is compiled only
        fused = optimize_for_inference(model, dtype=args.dtype)
        with torch.inference_mode():
            report(f"eager fused {args.dtype}", profiled(fused, x, args.iters), args.top)
    calibration = None
    if args.dtype == "int8":  # as bench: 32 seeded random images
        calibration = torch.randn(32, *x.shape[1:], generator=torch.Generator().manual_seed(2))
        calibration = calibration.split(8)
    with inductor_config.patch({"cpp.enable_kernel_profile": True}):  # names inductor's kernels
        compiled = optimize_for_inference(model, dtype=args.dtype, compile=True,
                                          calibration=calibration, batch_size=args.batch)
        with torch.inference_mode():
            report(f"compiled {args.dtype} (inductor, freezing)",
                   profiled(compiled, x, args.iters), args.top)


if __name__ == "__main__":
    main()
