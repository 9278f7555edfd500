"""Where ``ONEDNN_MAX_CPU_ISA`` holds oneDNN (``make test-isa``'s lower levels).

A module of its own, not ``conftest``: ``tests/reliability`` has a ``conftest`` too, and which
one ``from conftest import`` finds depends on the collection order."""

from __future__ import annotations

import os


def onednn_held_below_bf16() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` holds oneDNN below bf16. OpenVINO's CPU plugin reads bf16
    support from cpuid but its oneDNN obeys the cap, so on a bf16 CPU held below it OpenVINO
    finds no bf16 kernel at all."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper() in (
        "SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")
