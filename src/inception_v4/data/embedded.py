"""The ``"embedded"`` dataset: something that works with no download.

Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package (``apt-get install
dataset-fashion-mnist``: 60,000 train / 10,000 test 28×28 grey images, IDX files, gzipped),
the test part serving as ``val``. Without it, scikit-learn's bundled digits (1,797 8×8 grey
images, 0-16 scaled to 0-255) with a fixed seeded 10 % held out (see ``splits.held_out``).
Grey images become RGB when decoded.
"""

from __future__ import annotations

import functools
import gzip
import sys
from pathlib import Path

import numpy as np

from .image_sources import ArraySource
from .splits import held_out

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
_FASHION_PREFIX = {"train": "train", "val": "t10k"}


def open_embedded(split: str, seed: int = 0) -> tuple[ArraySource, list[int], list[str]]:
    """``(source, labels, class names)`` of ``split`` ("train" or "val")."""
    if _fashion_files(FASHION_MNIST_DIR, "train"):
        images, labels = _load_fashion(str(FASHION_MNIST_DIR), _FASHION_PREFIX[split])
        source = ArraySource(images, f"fashion-mnist/{split}")
        return source, labels.tolist(), list(FASHION_MNIST_CLASSES)
    print(f"inception-v4: Fashion-MNIST not found in {FASHION_MNIST_DIR} (Debian package "
          "dataset-fashion-mnist); using scikit-learn's digits (1,797 8x8 images) instead",
          file=sys.stderr)
    return _open_digits(split, seed)


def _fashion_files(root: Path, prefix: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files, gzipped or not, or None when either is missing."""
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        names = [root / f"{prefix}-{kind}-ubyte{ext}" for ext in (".gz", "")]
        existing = [p for p in names if p.is_file()]
        if not existing:
            return None
        found.append(existing[0])
    return found[0], found[1]


@functools.lru_cache(maxsize=2)
def _load_fashion(root: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    files = _fashion_files(Path(root), prefix)
    if files is None:
        raise FileNotFoundError(f"Fashion-MNIST {prefix} files missing in {root}")
    images, labels = (read_idx(p) for p in files)
    if len(images) != len(labels):
        raise ValueError(f"{files[0]} has {len(images)} images but {files[1]} {len(labels)} labels")
    return images, labels.astype(np.int64)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, unsigned bytes), gzipped or not, as an array."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def _open_digits(split: str, seed: int) -> tuple[ArraySource, list[int], list[str]]:
    from sklearn.datasets import load_digits  # lazy: only this fallback needs scikit-learn

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(int).tolist()
    is_val = held_out([f"digits/{i:04d}" for i in range(len(labels))], labels, seed)
    keep = [i for i, v in enumerate(is_val) if v == (split == "val")]
    source = ArraySource(images[keep], f"digits/{split}")
    return source, [labels[i] for i in keep], [str(d) for d in range(10)]
