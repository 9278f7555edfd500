"""``ImageDataset``: images with integer labels from any source, decoded on demand.

Which images and labels a DATA argument holds is :mod:`.forms`' job (``open_dataset``,
``detect_layout``); evaluation's extra forms are in :mod:`.eval_set`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from .images import MAX_PIXELS, BadImageError, decode_image
from .normalize import MeanStdNormalize

# transform None: [-1, 1], ``x / 127.5 - 1`` (the same float32 value for every uint8 value)
_UNIT_RANGE = MeanStdNormalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

log = logging.getLogger(__name__)


class ImageDataset(torch.utils.data.Dataset):
    """Images with integer labels from any source (see ``image_sources``).

    ``transform``: PIL → tensor; None gives the image at its own size scaled to [-1, 1].
    ``skip_bad`` (default True): ``dataset[i]`` is None for an unreadable image (logged), and
    the loader's collate drops and counts it; False raises ``BadImageError``.
    ``max_pixels``: larger images are refused as decompression bombs.
    """

    def __init__(self, source, labels: list[int], classes: list[str],  # noqa: ANN001
                 transform: Callable | None = None, root: str = "") -> None:
        if len(source) != len(labels):
            raise ValueError(f"{len(source)} images but {len(labels)} labels")
        self.source, self.labels, self.classes = source, list(labels), list(classes)
        self.transform, self.root = transform, root
        self.skip_bad, self.max_pixels = True, MAX_PIXELS

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, i: int) -> int:
        return self.labels[i]

    def name(self, i: int) -> str:
        return self.source.name(i)

    def load(self, i: int, draft_size: int | None = None) -> Image.Image:
        """Image ``i`` as upright RGB; ``BadImageError`` naming the file when unreadable.

        ``draft_size``: JPEGs may be decoded at 1/2-1/8 scale while both sides stay >= it.
        """
        name = self.source.name(i)
        try:
            data = self.source.read(i)
        except OSError as err:
            raise BadImageError(f"{name}: cannot read ({err})") from err
        return decode_image(data, name, draft_size=draft_size, max_pixels=self.max_pixels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | None:
        draft = getattr(self.transform, "draft_size", None)
        try:
            image = self.load(i, draft_size=draft)
        except BadImageError as err:
            if not self.skip_bad:
                raise
            log.warning("skipped bad image: %s", err)
            return None
        if self.transform is None:
            return _UNIT_RANGE(pil_to_tensor(image)), self.labels[i]
        return self.transform(image), self.labels[i]

    def __repr__(self) -> str:
        return (f"ImageDataset({self.root!r}, {len(self)} images, {self.num_classes} classes, "
                f"transform={self.transform!r})")
