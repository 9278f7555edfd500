"""Where image bytes come from: files in class folders, members of a tar, rows of an array.

Each source has ``read(i)`` (bytes, or a ``PIL.Image`` for arrays), ``name(i)`` (for error
messages) and ``__len__``; the dataset pairs it with the labels.
"""

from __future__ import annotations

import bisect
import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# The extensions torchvision's ImageFolder accepts (case-insensitive).
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def is_image_name(name: str) -> bool:
    """True for a file name with an image extension that is not hidden (``.``, macOS ``._``)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMG_EXTENSIONS)


def image_files(items: list[str]) -> list[str]:
    """The files given, and the images inside the folders given (recursively, sorted)."""
    paths = []
    for item in items:
        root = Path(item)
        if not root.is_dir():
            paths.append(item)
            continue
        found = sorted(str(f) for f in root.rglob("*")
                       if f.is_file() and is_image_name(str(f.relative_to(root))))
        if not found:
            raise ValueError(f"{item}: a folder without images ({', '.join(IMG_EXTENSIONS)})")
        paths += found
    return paths


def class_folders(root: Path) -> list[str]:
    """The sorted, non-hidden subfolder names of ``root`` (ImageFolder's classes)."""
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def list_image_folder(root: Path) -> dict[str, list[str]]:
    """``{class folder: sorted image paths relative to root}`` of an ImageFolder (sorted classes).

    Images may sit at any depth below their class folder, as in torchvision's ImageFolder.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    classes = class_folders(root)
    if not classes:
        raise ValueError(f"no class folders in {root}: expected {root}/<class>/<image> with "
                         f"extensions {', '.join(IMG_EXTENSIONS)}")
    found = {c: _images_below(root, c) for c in classes}
    empty = [c for c, files in found.items() if not files]
    if len(empty) == len(classes):
        raise ValueError(f"no images in {root}: its class folders hold no files with extensions "
                         f"{', '.join(IMG_EXTENSIONS)}")
    if empty:
        raise ValueError(f"class folder(s) with no images in {root}: {', '.join(empty)}; "
                         "add images or remove the folder(s)")
    return found


def _images_below(root: Path, folder: str) -> list[str]:
    found = []
    for here, dirs, files in os.walk(root / folder, followlinks=True):
        dirs.sort()
        rel = Path(here).relative_to(root).as_posix()
        found += [f"{rel}/{f}" for f in sorted(files) if is_image_name(f)]
    return found


class FileSource:
    """Image files below ``root`` read whole with an ordinary ``open``."""

    def __init__(self, root: Path, paths: list[str]) -> None:
        self.root, self.paths = Path(root), paths

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, i: int) -> str:
        return str(self.root / self.paths[i])

    def read(self, i: int) -> bytes:
        with open(self.root / self.paths[i], "rb") as f:
            return f.read()


def index_tar(path: Path) -> tuple[bytes | None, list[tuple[str, int, int]]]:
    """``(buffer, [(member, data offset, size)])`` of the regular files of a tar.

    A plain tar is indexed in place (``buffer`` is None, reads go to the file); a gzipped one
    (``.gz``/``.tgz``) is decompressed once into memory and indexed there. Leading ``./`` is
    dropped from member names. Nothing is extracted to disk.
    """
    buffer = gzip.decompress(path.read_bytes()) if path.name.endswith((".gz", ".tgz")) else None
    opened = tarfile.open(fileobj=io.BytesIO(buffer)) if buffer else tarfile.open(path)
    with opened as archive:
        entries = [(m.name.removeprefix("./"), m.offset_data, m.size)
                   for m in archive if m.isfile()]
    return buffer, entries


def tar_class_members(path: Path, entries: list[tuple[str, int, int]]) -> list[tuple[str, int]]:
    """``[(class folder, entry index)]`` of the image members; any file not ``class/file``
    is an error naming it."""
    out = []
    for k, (member, _, _) in enumerate(entries):
        parts = member.split("/")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path}: member {member!r} is not <class>/<image>; a tar dataset "
                             "holds only members named class/file (no other files, no deeper "
                             "folders)")
        if is_image_name(member):
            out.append((parts[0], k))
    if not out:
        raise ValueError(f"no images in {path}: no member has an image extension "
                         f"({', '.join(IMG_EXTENSIONS)})")
    return out


class TarSource:
    """Members of one tar, read by offset; the file is opened lazily once per process.

    After ``fork`` (DataLoader workers) each process opens its own handle; pickling (spawn)
    drops the handle. A gzipped tar's decompressed bytes are held in ``buffer``.
    """

    def __init__(self, path: Path, buffer: bytes | None, entries: list[tuple[str, int, int]]):
        self.path, self.buffer, self.entries = Path(path), buffer, entries
        self._file, self._pid = None, None

    def __len__(self) -> int:
        return len(self.entries)

    def name(self, i: int) -> str:
        return f"{self.path}:{self.entries[i][0]}"

    def read(self, i: int) -> bytes:
        _, offset, size = self.entries[i]
        if self.buffer is not None:
            return self.buffer[offset:offset + size]
        if self._pid != os.getpid():
            self._file, self._pid = open(self.path, "rb"), os.getpid()  # noqa: SIM115
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), size, offset)
        self._file.seek(offset)
        return self._file.read(size)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": None}

    def __del__(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()


class ConcatSource:
    """Several sources one after the other (a train and a val tar read as one set)."""

    def __init__(self, sources: list) -> None:
        self.sources = sources
        self.starts = [0]
        for source in sources:
            self.starts.append(self.starts[-1] + len(source))

    def __len__(self) -> int:
        return self.starts[-1]

    def _locate(self, i: int) -> tuple[Any, int]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = bisect.bisect_right(self.starts, i) - 1
        return self.sources[k], i - self.starts[k]

    def name(self, i: int) -> str:
        source, j = self._locate(i)
        return source.name(j)

    def read(self, i: int) -> bytes:
        source, j = self._locate(i)
        return source.read(j)


class ArraySource:
    """Rows of a ``uint8`` array ``(N, H, W)`` or ``(N, H, W, 3)`` as pictures."""

    def __init__(self, images: np.ndarray, prefix: str) -> None:
        self.images, self.prefix = images, prefix

    def __len__(self) -> int:
        return len(self.images)

    def name(self, i: int) -> str:
        return f"{self.prefix}/{i:05d}"

    def read(self, i: int) -> Image.Image:
        return Image.fromarray(self.images[i])
