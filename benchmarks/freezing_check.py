"""Does inductor's freezing change a CNN's float32 outputs? A stand-alone check (torch and
timm only, no code of ours) of the report in issue 23: compiled Inception-ResNet-v2 under
``freezing`` differed from eager by 5.9e-2 relative (2.4e-7 without freezing).

    python benchmarks/freezing_check.py [--model inception_resnet_v2] [--batch 8]
        [--no-binary-folding]

Random weights, BatchNorm statistics from one training-mode pass over 4 random images (so
activations keep their scale through the depth), channels-last, 2 threads. Prints the largest
|compiled - eager| over the largest |eager| logit, with freezing off and on; exits 1 when
either exceeds 1e-4 (float32 reordering bound, src/inception_v4/tolerances.py), so it can be
handed upstream as a reproduction where it fails.

Measured (torch 2.14.1, timm 1.0.31, AMD EPYC AVX-512, batch 8, seed 0): 2.5e-6 without
freezing, 0.174 with it; with ``--no-binary-folding`` (inductor's freezing binary-folding
pass made a no-op) 2.5e-6: that pass is the culprit. Freezing must be visible to Dynamo
(the config patched around the call, or TORCHINDUCTOR_FREEZING=1); with
``torch.compile(options={"freezing": True})`` the weights stay graph inputs and nothing is
folded.
"""

from __future__ import annotations

import argparse
import sys
import time

import timm
import torch
from torch import nn
from torch._inductor import config as inductor_config


def calibrated(name: str, size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = timm.create_model(name)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(1)))
    return model.eval().to(memory_format=torch.channels_last)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="inception_resnet_v2")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=299)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-binary-folding", action="store_true",
                   help="make inductor's freezing binary-folding pass a no-op")
    args = p.parse_args()
    if args.no_binary_folding:
        from torch._inductor.fx_passes import freezing_patterns

        freezing_patterns.binary_folding_pass.apply = lambda *a, **k: 0
    torch.set_num_threads(2)
    x = torch.randn(args.batch, 3, args.size, args.size,
                    generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    worst = 0.0
    print(f"torch {torch.__version__}, timm {timm.__version__}, {args.model}, batch {args.batch}")
    for freezing in (False, True):
        torch._dynamo.reset()
        model = calibrated(args.model, args.size, args.seed)
        with torch.no_grad(), inductor_config.patch(freezing=freezing):
            want = model(x)
            start = time.perf_counter()
            got = torch.compile(model)(x)
        rel = float((got - want).abs().max() / want.abs().max())
        worst = max(worst, rel)
        print(f"freezing={freezing}: max rel. error {rel:.3g} (compile "
              f"{time.perf_counter() - start:.0f} s)")
    return 1 if worst > 1e-4 else 0


if __name__ == "__main__":
    sys.exit(main())
