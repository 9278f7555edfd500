"""Shared fixtures: where ../shared is, small deterministic settings, the machine in the log
header, and a check that a test leaves the process as it found it."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from pathlib import Path

import pytest
import torch

from inception_v4.bench.timing import cpu_model, vector_flags

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
# Set by pytest for each phase, and by torch the first time inductor looks for its cache.
OWN_VARIABLES = ("PYTEST_CURRENT_TEST", "TORCHINDUCTOR_CACHE_DIR")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Every test log names its machine: the results of the bf16/int8 paths depend on it."""
    flags = set(vector_flags())
    has = {"AVX512-BF16": "avx512_bf16" in flags,
           "AVX512-VNNI": "avx512_vnni" in flags, "AVX-VNNI": "avx_vnni" in flags,
           "AMX": bool({"amx_bf16", "amx_tile"} & flags)}
    held = [f"{k}={os.environ[k]}" for k in ISA_VARIABLES if k in os.environ]
    return [f"cpu: {cpu_model()}, {os.cpu_count()} logical CPUs; torch {torch.__version__}, "
            f"ATen capability {torch.backends.cpu.get_cpu_capability()}",
            "cpu features: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in has.items())
            + (f"; held below the machine by {' '.join(held)}" if held else "")]


def pytest_sessionstart(session: pytest.Session) -> None:
    """``pytest -q`` (``make test``) prints no header: the machine's lines are written anyway."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        for line in pytest_report_header(session.config):
            reporter.write_line(line)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}: real data and weights tests skipped")
    return SHARED


@pytest.fixture(scope="session")
def h5_path(shared_dir: Path) -> Path:
    """FaceNet's Keras weights, ``../shared/weights/facenet_keras.h5`` (skips without)."""
    path = shared_dir / "weights" / "facenet_keras.h5"
    if not path.is_file():
        pytest.skip(f"{path} not found: FaceNet weights tests skipped")
    return path


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


class _StackT(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                ("ss_size", ctypes.c_size_t)]


SS_DISABLE = 2


def alternate_signal_stack_usable() -> bool:
    """True if this thread has no alternate signal stack, or one inside memory mapped
    readable and writable (``/proc/self/maps``): a signal can then be delivered on it."""
    try:
        current = _StackT()
        if ctypes.CDLL(None).sigaltstack(None, ctypes.byref(current)) != 0:
            return True
        if current.ss_flags & SS_DISABLE or not current.ss_sp:
            return True
        start, end = current.ss_sp, current.ss_sp + current.ss_size
        with open("/proc/self/maps") as f:
            regions = [line.split()[:2] for line in f]
    except (OSError, AttributeError):
        return True  # no libc sigaltstack or no /proc: nothing to check
    return any(int(lo, 16) <= start and end <= int(hi, 16) and perms.startswith("rw")
               for lo, hi, perms in ((*r[0].split("-"), r[1]) for r in regions))


def process_state() -> dict:
    """What a test that loads third-party runtimes must leave unchanged: Python threads,
    signal handlers, the environment and the main thread's alternate signal stack (a stale
    one crashed the next signal: ``runtimes.openvino_core``). Native thread pools
    (OpenMP, TBB, ONNX Runtime) persist by design and are not compared."""
    handlers = {s.name: signal.getsignal(s) for s in signal.valid_signals()
                if isinstance(s, signal.Signals)}
    return {"threads": sorted(t.name for t in threading.enumerate()), "signals": handlers,
            "environment": {k: v for k, v in os.environ.items() if k not in OWN_VARIABLES},
            "alternate signal stack usable": alternate_signal_stack_usable()}


@pytest.fixture
def process_unchanged():  # noqa: ANN201 - a generator fixture
    """Fails the test if it leaves the process changed (:func:`process_state`)."""
    before = process_state()
    yield
    after = process_state()
    changed = {k: _difference(before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"the test left the process changed: {changed}"


def _difference(before: object, after: object) -> object:
    if isinstance(before, dict) and isinstance(after, dict):
        keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        return {k: (before.get(k), after.get(k)) for k in sorted(keys)}
    return before, after

