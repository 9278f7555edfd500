"""Where a training step's (or a forward pass's) time goes: torch.profiler's op table.

    python benchmarks/profile_step.py --impl ours --threads 2 --batch-size 8
    python benchmarks/profile_step.py --impl timm --nchw
    python benchmarks/profile_step.py --mode infer --impl ours

``ours`` is ``optimize_for_training(create_model(name))`` for training and
``optimize_for_inference(create_model(name))`` for inference (channels-last unless
``--nchw``); ``timm`` is timm's model of the same name (a benchmark-only dependency).
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import profile

from inception_v4 import create_model, optimize_for_inference, optimize_for_training
from inception_v4.bench.contestants import training_step
from inception_v4.bench.timing import matmul_gflops
from inception_v4.models.complexity import count_macs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="inception_v4")
    p.add_argument("--impl", choices=("ours", "timm"), default="ours")
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    p.add_argument("--nchw", action="store_true", help="keep NCHW (default: channels-last)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--image-size", type=int, default=299)
    p.add_argument("--rows", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.impl == "timm":
        import timm

        model = timm.create_model(args.model)
    elif args.mode == "train":
        model = optimize_for_training(create_model(args.model), channels_last=False)
    else:
        model = optimize_for_inference(create_model(args.model), channels_last=False)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    y = torch.zeros(args.batch_size, dtype=torch.long)
    if not args.nchw:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if args.mode == "train":
        step = training_step(model, x, y)
    else:
        model.eval()

        def step() -> None:
            with torch.inference_mode():
                model(x)
    step()  # warm-up: oneDNN primitives, optimizer state
    with profile() as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    macs = count_macs(create_model(args.model), args.image_size) * args.batch_size
    flops = 2 * macs * (3 if args.mode == "train" else 1)
    print(f"{flops / 1e9:.0f} GFLOP per {args.mode} pass; dense matmul now: "
          f"{matmul_gflops(torch.device('cpu')):.0f} GFLOP/s")


if __name__ == "__main__":
    main()
