"""Measuring: timed runs, the dense matrix-multiply peak, peak memory, the machine.

Memory on CPU is the peak resident set size (``VmHWM``) of a fresh child process that
builds one model and runs it, minus its resident size just before the first run: what the
run itself needs (activations, gradients, optimizer state, workspace), free of whatever the
benchmark process held before. On CUDA it is the allocator's peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib.metadata
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes, the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def interleaved(fns: dict[str, Callable[[], object]], device: torch.device, warmup: int,
                repeats: int) -> dict[str, list[float]]:
    """Times of each function, run in turn (a, b, c, a, b, c, …) after ``warmup`` rounds.

    Alternating spreads any change in the machine's load over all contestants alike.
    """
    for _ in range(warmup):
        for fn in fns.values():
            timed(fn, device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(timed(fn, device))
    return times


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 4096,
                  repeats: int = 5) -> float:
    """Median GFLOP/s of a dense ``n × n`` by ``n × n`` matrix multiply (2 n³ flops)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    torch.mm(a, b, out=out)
    times = [timed(lambda: torch.mm(a, b, out=out), device) for _ in range(repeats)]
    return 2 * n**3 / statistics.median(times) / 1e9


def conv_gflops(device: torch.device, dtype: torch.dtype, kernel: int, channels: int,
                size: int = 35, batch: int = 8, repeats: int = 5) -> float:
    """Median GFLOP/s of one large same-padded ``kernel``×``kernel`` convolution, NHWC
    (oneDNN on CPU), ``channels`` in and out on a ``size``² grid."""
    x = torch.randn(batch, channels, size, size, device=device, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, kernel, kernel, device=device, dtype=dtype)
    w = w.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.nn.functional.conv2d(x, w, padding=kernel // 2)
        times = [timed(lambda: torch.nn.functional.conv2d(x, w, padding=kernel // 2), device)
                 for _ in range(repeats)]
    return 2 * batch * size * size * channels * channels * kernel * kernel / statistics.median(
        times) / 1e9


def dense_limits(device: torch.device, dtype: torch.dtype, n: int = 4096) -> dict[str, float]:
    """GFLOP/s of several dense kernels sized by ``n``: an ``n``² matmul, a 1×1 convolution
    of ``n / 4`` and a 3×3 of ``n / 10`` channels on 35×35 (1024 and 409 at the default).
    The machine's limit is the best of them: a large oneDNN 3×3 convolution beats
    ``torch.matmul`` on some CPUs."""
    return {"matmul": matmul_gflops(device, dtype, n),
            "conv1x1": conv_gflops(device, dtype, 1, max(8, n // 4)),
            "conv3x3": conv_gflops(device, dtype, 3, max(8, n // 10))}


def keep_heap() -> bool:
    """glibc only, process-wide: serve large allocations from the heap and never trim it.

    By default glibc maps each allocation above 32 MiB afresh (and freed ones back), so a
    large activation costs page faults on every call: ~0.4 ms per MiB here. Every
    contestant in the process is affected alike. Returns whether both settings took.
    """
    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or name is None:
        return False
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(
        libc.mallopt(m_trim_threshold, 1 << 31))


def release_free_memory() -> None:
    """Collect garbage and hand the heap's free pages back to the OS (glibc ``malloc_trim``),
    so a later peak-RSS measurement counts fresh allocations, not reused leftovers."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if platform.system() == "Linux" and name is not None:
        ctypes.CDLL(name).malloc_trim(0)


def rss_bytes() -> int:
    """The current resident set size of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def reset_peak_rss() -> bool:
    """Start a new peak-RSS measurement (Linux ``/proc/self/clear_refs``); False if unable."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """The peak resident set size of this process (``VmHWM``) since start or the last
    :func:`reset_peak_rss`; ``getrusage`` where ``/proc`` is absent (that one also counts
    the parent's pages a freshly exec'ed child was forked with)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


def machine(device: torch.device | str = "cpu") -> dict[str, object]:
    """What the numbers were measured on: CPU model, cores, versions, load; the GPU's name
    when ``device`` is one."""
    info: dict[str, object] = {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if hasattr(os, "getloadavg"):
        info["load_avg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    info["cpu_flags"] = vector_flags()
    info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    for package in ("timm", "onnxruntime", "openvino", "nncf"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return info


def vector_flags() -> list[str]:
    """The CPU's vector and matrix extensions (AVX2, AVX-512 and its BF16/VNNI, AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(f for f in flags if f.startswith(("avx", "amx")) or "vnni" in f)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
