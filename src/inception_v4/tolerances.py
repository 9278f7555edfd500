"""How far a result computed in a lower precision may lie from eager float32, per dtype.

One table, used by the tests and by ``bench`` (its "rel. err" column): the largest
``|logit − float32 logit|`` over the largest ``|float32 logit|`` of a batch. Each bound comes
from the arithmetic of the number format, not from one machine:

* ``float32``: unit roundoff 2⁻²⁴ ≈ 6e-8. Another backend (fused BatchNorm, oneDNN, ONNX
  Runtime, OpenVINO) sums each dot product of up to ~2·10⁴ terms in another order (√K ≈ 140)
  through ~100 sequential layers (√100 = 10): 6e-8 · 140 · 10 ≈ 8e-5, so 1e-4.
* ``bfloat16``: 8 bits of significand, so every layer's input and weights are rounded to
  2⁻⁸ ≈ 3.9e-3 relative (accumulation stays float32). Those roundings are independent and
  add like a random walk over the network's ~100 sequential layers: √100 · 2⁻⁸ ≈ 3.9e-2 for
  a typical logit, twice that for the largest deviation in a batch: 2⁻⁸ · 10 · 2 ≈ 7.8e-2.
  Measured: 2.6e-2 (oneDNN's native bf16) to 4.6e-2 (aten's kernels on AVX2) on a random
  Inception-ResNet-v1 with calibrated BatchNorm; a broken path is off by ~1.
* ``int8``: static quantization rounds every layer's input and weights to 256 levels spread
  over the tensor's calibrated range (weights: per output channel), an error of up to half a
  level, 2⁻⁸ of the range. After a ReLU a typical activation is about half the range, so
  relative to the value that is 2⁻⁷, and the random walk over the layers gives
  2⁻⁷ · 10 · 2 ≈ 0.16. Measured: 3e-3 to 3.7e-2 (ONNX Runtime, OpenVINO/NNCF) on the small
  networks with random BatchNorm statistics; a broken path is off by ~1. It bounds the
  logits of a calibration that fits the data; accuracy is measured on real images.
* ``int8_reduced``: int8 on a CPU without VNNI or AMX, whose ``vpmaddubsw`` sums pairs of
  u8 × s8 products in 16 bits and saturates; quantizers keep activations to 7 bits there
  (torchao's ``reduce_range``, NNCF's overflow fix), one bit less: 2⁻⁶ · 10 · 2 ≈ 0.31.
  Measured: 0.166 (OpenVINO/NNCF with oneDNN held at AVX2) where full-range int8 gave 3.7e-2.
"""

from __future__ import annotations

LAYERS = 100  # sequential conv layers of the deepest network, rounded (Fig. 15: ~95)

REL_TOL = {
    "float32": 1e-4,
    "bfloat16": 2**-8 * LAYERS**0.5 * 2,
    "int8": 2**-7 * LAYERS**0.5 * 2,
    "int8_reduced": 2**-6 * LAYERS**0.5 * 2,
}


def rel_tol(dtype: str) -> float:
    """The bound for ``dtype`` ("float32", "bfloat16", "int8"); a KeyError names the known ones."""
    try:
        return REL_TOL[dtype]
    except KeyError:
        raise KeyError(f"no tolerance for dtype {dtype!r}; known: {sorted(REL_TOL)}") from None
