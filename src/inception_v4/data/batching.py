"""``build_loader``: a seeded DataLoader whose batches are ``(images, labels, n_skipped)``."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter, default_collate


def collate_skipping(batch: list) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Stack the good samples; ``None`` (a skipped bad image) is dropped and counted.

    A batch in which every image was bad is ``(empty tensor, empty labels, n)``.
    """
    kept = [sample for sample in batch if sample is not None]
    skipped = len(batch) - len(kept)
    if not kept:
        return torch.empty(0), torch.empty(0, dtype=torch.long), skipped
    images, labels = default_collate(kept)
    return images, labels, skipped


def build_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, workers: int,
                 sampler: Sampler | None = None, seed: int = 0,
                 drop_last: bool = False, pin_memory: bool | None = None) -> DataLoader:
    """A DataLoader over ``dataset`` (items ``(tensor or Pixels, label)``, None for a bad image).

    The shuffle order and the workers' random streams come from a generator seeded with
    ``seed``; workers persist across epochs when ``workers > 0``; batches are in pinned memory
    when ``pin_memory`` (None: when CUDA is available). ``sampler`` (e.g. DistributedSampler)
    replaces ``shuffle``, which must be False.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    if sampler is not None and shuffle:
        raise ValueError("pass shuffle=False with a sampler: the sampler decides the order")
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler,
        num_workers=workers, collate_fn=collate_skipping,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        drop_last=drop_last, generator=torch.Generator().manual_seed(seed),
        persistent_workers=workers > 0,
    )


def shutdown_workers(loader: DataLoader) -> None:
    """Stop ``loader``'s persistent worker processes now, not when it is garbage-collected.

    A run that fails keeps its iterator alive in the traceback; at interpreter exit
    ``multiprocessing`` then joins workers that ignore SIGTERM (the training loaders' do, see
    ``train.preempt``) and waits forever. Lightning does the same at the end of its loops."""
    iterator = getattr(loader, "_iterator", None)
    if isinstance(iterator, _MultiProcessingDataLoaderIter):
        iterator._shutdown_workers()
    loader._iterator = None
