"""``python -m tests.reliability.report``: ``build/reliability.json`` (written by the
reliability tests' recorder, ``tests/reliability/conftest.py``) → ``docs/RELIABILITY.md``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "build" / "reliability.json"
OUT = REPO / "docs" / "RELIABILITY.md"
COMMAND = ("make test-reliability && .venv/bin/pytest -q tests/reliability && "
           ".venv/bin/python -m tests.reliability.report")
AREAS = ("fault injection", "preemption", "multi-node", "elastic training", "checkpoint write",
         "checkpoint damage", "training", "bad input", "API fuzz", "safe loading")


def render(rows: list[dict]) -> str:
    lines = [
        "# Reliability: faults and bad input tried, and what happened",
        "",
        "Generated from the test run by `tests/reliability/report.py`; do not edit by hand.",
        "Regenerate (the slow tests, then the fast ones, then this file):",
        "",
        f"```sh\n{COMMAND}\n```",
        "",
        "`tried` counts the injections or files of that kind in the recorded run; `result` is "
        "the outcome of the test that checked them. Decoding of each image kind is also "
        "covered by `tests/test_data.py`; dataset layout errors (no images, a class with no "
        "images, tar members outside `class/file`) by `test_clear_errors` and "
        "`test_tar_member_outside_class_file_is_an_error` there.",
        "",
        "Runs compared across numbers of processes (`--sync-bn`) are 6 steps long: on these "
        "tiny networks float32 rounding differences (the order of summation) grow about 10x "
        "per step. They are judged by what rounding alone does to the run (the one-process "
        "run redone on another thread count, x4, at least 1e-5: 2e-7 on AVX2 oneDNN, up to "
        "1e-3 on AVX-512). Resumes on the same number of processes are bit-identical however "
        "long the run.",
        "",
    ]
    order = {a: i for i, a in enumerate(AREAS)}
    rows = sorted(rows, key=lambda r: (order.get(r["area"], 99), r["fault"]))
    total = sum(r["tried"] for r in rows)
    passed = sum(r["tried"] for r in rows if r["result"].startswith("passed"))
    lines += [f"**{len(rows)} faults and inputs, {total} tries, {passed} with the expected "
              f"outcome.**", "", "| area | fault or input | tried | outcome checked | result |",
              "|---|---|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['area']} | {r['fault']} | {r['tried']} | {r['outcome']} | "
                     f"{r['result']} |")
    tests = sorted({r["test"].split("::")[0] for r in rows})
    lines += ["", "Tests: " + ", ".join(f"`{t}`" for t in tests), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else RESULTS
    if not src.is_file():
        print(f"{src} not found: run the reliability tests first ({COMMAND})", file=sys.stderr)
        return 2
    OUT.write_text(render(json.loads(src.read_text())))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
