"""Peak memory of one contestant, measured where nothing else competes for it.

CPU: a fresh Python child process builds the one model, returns freed heap pages to the OS
(``malloc_trim``), notes its resident set size, runs two passes (forward, or training
steps), and reports peak RSS (``VmHWM``) minus that starting RSS: the memory the passes need
(activations, gradients, optimizer state, scratch), in MiB. ``--keep-heap`` is not applied
there, so memory is always measured with glibc's default behaviour.

CUDA: in this process, the caching allocator's peak over the passes minus what was allocated
before them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import torch

from .contestants import Settings, build_contestant, make_input, prepare, training_step
from .timing import peak_rss_bytes, release_free_memory, reset_peak_rss, rss_bytes

MIB = 2**20


def _passes(name: str, impl: str, config: dict, settings: dict) -> int:
    """Run two passes of the contestant; the bytes they needed at peak."""
    s = Settings(**settings)  # keep_heap is not applied: memory is measured as glibc ships
    torch.set_num_threads(s.threads)
    nhwc = bool(config.get("channels_last"))
    model = build_contestant(name, impl, config)
    if config.get("fused") and config.get("dtype", s.dtype) != s.dtype:
        model = model.to(s.torch_device)  # built in its own dtype by optimize_for_inference
    else:
        model = prepare(model, s, nhwc)
    if s.compile:
        model = torch.compile(model)
    x = make_input(s, nhwc)
    if config["mode"] == "train":
        y = torch.zeros(s.batch_size, dtype=torch.long, device=s.torch_device)
        run = training_step(model, x, y, bool(config.get("step_in_backward")),
                            amp=config.get("amp") == "bf16")
    else:
        model.eval()

        def run() -> None:
            with torch.inference_mode():
                model(x)
    device = s.torch_device
    cuda = device.type == "cuda"
    if cuda:  # the asked GPU's counters, not the current device's
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        release_free_memory()  # e.g. the unfused model optimize_for_inference copied from
        reset_peak_rss()
    start = torch.cuda.memory_allocated(device) if cuda else rss_bytes()
    for _ in range(2):
        run()
    if cuda:
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    return peak_rss_bytes() - start


def measure_memory(name: str, impl: str, config: dict, settings: object) -> float:
    """Peak MiB two passes of the contestant need (module docstring)."""
    fields = dataclasses.asdict(settings)
    if torch.device(fields["device"]).type == "cuda":
        return _passes(name, impl, config, fields) / MIB
    job = json.dumps([name, impl, config, fields])
    code = "import sys; from inception_v4.bench.memory import child_main; child_main(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, job], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement of {impl} {name} failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / MIB


def child_main(job: str) -> None:
    """Entry point of the child process: prints the peak bytes of the job's two passes."""
    name, impl, config, fields = json.loads(job)
    print(_passes(name, impl, config, fields))
