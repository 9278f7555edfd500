"""Peak memory of one contestant, measured where nothing else competes for it.

CPU: a fresh child process (``spawn``) builds the one model, notes its resident set size,
runs two passes (forward, or training steps), and reports peak RSS (``getrusage``) minus
that starting RSS: the memory the passes need (activations, gradients, optimizer state,
scratch), in MiB. CUDA: in this process, the caching allocator's peak over the passes minus
what was allocated before them.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import torch
from torch import nn

MIB = 2**20


def build(name: str, impl: str, config: dict) -> nn.Module:
    """The model of one contestant (random weights: memory does not depend on them)."""
    from .bench import DROP_RATE

    if impl == "timm":
        import timm

        return timm.create_model(name, drop_rate=DROP_RATE)
    from ..models import create_model
    from .fuse import optimize_for_inference

    model = create_model(name, drop_rate=DROP_RATE)
    if config.get("checkpointing"):
        model.set_grad_checkpointing(True)
    return optimize_for_inference(model) if config.get("fused") else model


def _passes(name: str, impl: str, config: dict, settings: dict) -> int:
    """Run two passes of the contestant; the bytes they needed at peak."""
    from .bench import Settings, _input, prepare, training_step
    from .timing import peak_rss_bytes, rss_bytes

    s = Settings(**settings)
    torch.set_num_threads(s.threads)
    nhwc = bool(config.get("channels_last"))
    model = prepare(build(name, impl, config), s, nhwc)
    if s.compile:
        model = torch.compile(model)
    x = _input(s, nhwc)
    if config["mode"] == "train":
        y = torch.zeros(s.batch_size, dtype=torch.long, device=s.torch_device)
        run = training_step(model, x, y)
    else:
        model.eval()

        def run() -> None:
            with torch.inference_mode():
                model(x)
    cuda = s.torch_device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated() if cuda else rss_bytes()
    for _ in range(2):
        run()
    if cuda:
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - start
    return peak_rss_bytes() - start


def measure_memory(name: str, impl: str, config: dict, settings: object) -> float:
    """Peak MiB two passes of the contestant need (module docstring)."""
    fields = dataclasses.asdict(settings)
    if torch.device(fields["device"]).type == "cuda":
        return _passes(name, impl, config, fields) / MIB
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_passes, name, impl, config, fields).result() / MIB
