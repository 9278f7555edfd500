"""Minimal reproduction for OpenVINO (seen with openvino 2026.4.1, CPU plugin, Linux x86-64).

Two ``ov.Core`` objects each load the CPU plugin; each plugin instance sets the calling
thread's alternate signal stack (``sigaltstack``) to a buffer of its own and, when destroyed,
restores the one it found. Destroyed in creation order, the second restores the first's
already freed buffer. Python installs its signal handlers with ``SA_ONSTACK``, so the next
handled signal cannot be delivered: the process dies with SIGSEGV (``si_code`` SI_KERNEL, at
whatever system call the thread was in). ``python benchmarks/openvino_sigaltstack.py two``
crashes; ``one`` (one ``Core`` for both models, what ``inception_v4`` does) survives.
"""

import gc
import os
import signal
import sys

import numpy as np
import openvino as ov
from openvino import opset13 as ops

x = ops.parameter([1, 4], np.float32)
model = ov.Model([ops.relu(x)], [x])
shared = ov.Core() if sys.argv[1:] == ["one"] else None
a = (shared or ov.Core()).compile_model(model, "CPU")
b = (shared or ov.Core()).compile_model(model, "CPU")
del a, b  # in creation order
gc.collect()
signal.signal(signal.SIGUSR1, lambda *_: print("handler ran", flush=True))
os.kill(os.getpid(), signal.SIGUSR1)
print("survived", flush=True)
