"""Reliability tests: shared fixtures, and the recorder behind ``docs/RELIABILITY.md``.

Each test tells the ``reliability`` fixture what it tried (area, the fault or input, how
many times, the outcome it checked). At the end of the session the records, with the pass
or fail of the test that made them, are merged into ``build/reliability.json`` (keyed by
area, fault and test, so the fast and the slow runs add up); ``python -m tests.reliability.report``
turns that file into the markdown table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from train_helpers import make_image_folder

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", REPO / "build" / "reliability.json"))
_records: list[dict] = []
_outcomes: dict[str, str] = {}


class Recorder:
    """``record(area, fault, tried, outcome)`` for one test."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __call__(self, area: str, fault: str, tried: int, outcome: str) -> None:
        _records.append({"area": area, "fault": fault, "tried": int(tried),
                         "outcome": outcome, "test": self.nodeid})


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Recorder:
    return Recorder(request.node.nodeid)


@pytest.fixture(scope="session")
def recorder() -> type[Recorder]:
    """The class itself, for fixtures that record counts under another test's name."""
    return Recorder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    report = (yield).get_result()
    if report.when == "call" or report.failed:
        outcome = report.outcome
        if hasattr(report, "wasxfail"):  # marked flaky: say which way it went this time
            outcome = "passed (flaky, marked xfail)" if report.passed else "failed (flaky, open)"
        previous = _outcomes.get(item.nodeid, "passed")
        _outcomes[item.nodeid] = "failed" if previous == "failed" else outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _records:
        return
    merged = {}
    if RESULTS.is_file():
        merged = {(r["area"], r["fault"], r["test"]): r for r in json.loads(RESULTS.read_text())}
    for r in _records:
        key = (r["area"], r["fault"], r["test"])
        merged[key] = {**r, "result": _outcomes.get(r["test"], "unknown")}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(merged.values(), key=lambda r: (r["area"], r["fault"]))
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The tiny networks run fastest on one thread (no OpenMP contention on shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes, 8 training and 2 validation PNGs each (40×40): 3 steps of 8 per epoch."""
    return make_image_folder(tmp_path_factory.mktemp("tiny") / "data", classes=3, train=8,
                             val=2, size=40)


# The tiny run every fault-injection test trains: Inception-ResNet-v2 at width 0.25, depth
# 0.2, 75×75 images, dropout and averaging on (so both must resume exactly), CPU.
TINY = {"model": "inception_resnet_v2", "width": 0.25, "depth": 0.2, "image_size": 75,
        "batch_size": 8, "reference_batch": 8, "lr": 0.02, "drop_rate": 0.5,
        "ema_decay": 0.9, "workers": 0, "device": "cpu", "checkpoint_every": 1,
        "log_every": 1, "epochs": 4.0}


def tiny_args(data: Path, out: Path, max_steps: int, epochs: float | None = None) -> list[str]:
    """``inception-v4 train`` arguments for :data:`TINY` (3 steps per epoch on tiny_data)."""
    flags = ["--model", TINY["model"], "--data", str(data), "--out", str(out),
             "--max-steps", str(max_steps)]
    settings = {**TINY, "epochs": epochs or TINY["epochs"]}
    for key in ("width", "depth", "image_size", "batch_size", "workers", "device",
                "checkpoint_every", "log_every", "epochs"):
        flags += ["--" + key.replace("_", "-"), str(settings[key])]
    for key in ("reference_batch", "lr", "drop_rate", "ema_decay"):
        flags += ["--set", f"{key}={TINY[key]}"]
    return flags
