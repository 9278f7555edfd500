"""``make test-isa``: the tests of hardware-dependent paths (marker ``isa``: bf16 inference,
the bench rows, bf16-autocast training) once per instruction-set level this CPU supports,
each in a child pytest with oneDNN and ATen held at that level, so that a bigger machine
also proves a smaller one's behaviour. Prints which levels ran and which this CPU lacks.

Levels, lowest first (names as oneDNN 3.x and ATen read them):
``ONEDNN_MAX_CPU_ISA`` AVX2 | AVX512_CORE | AVX512_CORE_VNNI | AVX512_CORE_BF16 |
AVX512_CORE_AMX; ``ATEN_CPU_CAPABILITY`` avx2 | avx512.
"""

from __future__ import annotations

import os
import subprocess
import sys

from inception_v4.bench.timing import vector_flags  # the one reader of the CPU's flags

AVX512_CORE = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
# (oneDNN level, ATen capability, the /proc/cpuinfo flags the level needs)
LEVELS = [
    ("AVX2", "avx2", {"avx2", "fma"}),
    ("AVX512_CORE", "avx512", AVX512_CORE),
    ("AVX512_CORE_VNNI", "avx512", AVX512_CORE | {"avx512_vnni"}),
    ("AVX512_CORE_BF16", "avx512", AVX512_CORE | {"avx512_vnni", "avx512_bf16"}),
    ("AVX512_CORE_AMX", "avx512", AVX512_CORE | {"avx512_bf16", "amx_tile", "amx_bf16",
                                                 "amx_int8"}),
]


def all_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((ln.split(":", 1)[1].split() for ln in f
                             if ln.startswith("flags")), []))
    except OSError:
        return set(vector_flags())


def main(argv: list[str]) -> int:
    flags, ran, failed = all_flags(), [], []
    for onednn, aten, needs in LEVELS:
        if not needs <= flags:
            print(f"test-isa: {onednn}: not on this CPU (lacks {' '.join(sorted(needs - flags))})")
            continue
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": onednn, "ATEN_CPU_CAPABILITY": aten}
        print(f"test-isa: {onednn} (ATen {aten})", flush=True)
        code = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "isa", *argv],
                              env=env, check=False).returncode
        (ran if code == 0 else failed).append(onednn)
    print(f"test-isa: passed at {', '.join(ran) or 'no level'}"
          + (f"; FAILED at {', '.join(failed)}" if failed else ""))
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
