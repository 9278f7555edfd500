"""Peak CPU memory of a piece of work, from the profiler's allocation records."""

from __future__ import annotations

from collections.abc import Callable


def peak_allocated_bytes(work: Callable[[], object]) -> int:
    """Peak bytes the CPU allocator holds above the start while ``work()`` runs (allocation
    sizes, not timings: deterministic)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        work()
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak
