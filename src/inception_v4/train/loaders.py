"""Training and evaluation loaders over the data package, with reproducible order.

The order of an epoch is defined in global batches, whatever the number of processes: a
permutation of the training set drawn from ``(seed, epoch)``, cut into ``steps_per_epoch``
global batches of ``batch_size`` (the incomplete rest dropped), of which rank ``r`` of ``w``
takes every ``w``-th image starting at ``r``. Every sample's augmentation is drawn from a
generator seeded with ``(seed, epoch, index)``, independent of the workers, the rank and of
what ran before. So a run resumed in the middle of an epoch (``start`` batches skipped), on
the same or on another number of processes, sees exactly the global batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from ..data import ImageDataset, build_loader
from .preempt import ignore_in_worker


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of sample ``index`` in ``epoch``."""
    return ((seed * 1_000_003 + epoch) * 2_654_435_761 + index) % (2**63)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The permutation of epoch ``epoch`` (the one ``DistributedSampler`` draws)."""
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


class EpochSampler(Sampler):
    """``(index, sample_seed)`` pairs of this rank's share of each global batch of epoch
    ``epoch``. ``set_epoch(epoch, start)`` skips the first ``start`` global batches
    (mid-epoch resume).
    """

    def __init__(self, n: int, batch_size: int, rank: int, world: int, seed: int) -> None:
        self.n, self.batch_size, self.rank, self.world = n, batch_size, rank, world
        self.global_batch = batch_size * world
        self.seed, self.epoch, self.start = seed, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def steps_per_epoch(self) -> int:
        return self.n // self.global_batch

    def __len__(self) -> int:
        return max(self.steps_per_epoch() - self.start, 0) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order, size = epoch_order(self.n, self.seed, self.epoch), self.global_batch
        for step in range(self.start, self.steps_per_epoch()):
            for i in order[step * size:(step + 1) * size][self.rank::self.world]:
                yield i, sample_seed(self.seed, self.epoch, i)


class SeededSamples(Dataset):
    """``dataset[index]`` with the augmentation RNG seeded by the sampler's ``sample_seed``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):  # noqa: ANN204 - the dataset's item
        index, seed = item
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def train_loader(dataset: ImageDataset, per_rank_batch: int, rank: int, world: int,
                 seed: int, workers: int, *, pin_memory: bool | None = None) -> DataLoader:
    """A loader whose ``sampler`` is an :class:`EpochSampler` (call its ``set_epoch``);
    ``pin_memory``: as ``data.build_loader``'s (True where the run's device is a GPU)."""
    sampler = EpochSampler(len(dataset), per_rank_batch, rank, world, seed)
    if sampler.steps_per_epoch() < 1:
        raise ValueError(f"the training split has {len(dataset)} images, fewer than one global "
                         f"batch of {per_rank_batch * world}; lower --batch-size")
    loader = build_loader(SeededSamples(dataset), per_rank_batch, shuffle=False,
                          workers=workers, sampler=sampler, seed=seed, drop_last=True,
                          pin_memory=pin_memory)
    loader.worker_init_fn = ignore_in_worker  # SIGTERM to the process group: not theirs
    return loader


def eval_loader(dataset: ImageDataset, batch_size: int, rank: int, world: int, seed: int,
                workers: int, max_images: int = 0, *,
                pin_memory: bool | None = None) -> DataLoader:
    """This rank's disjoint share (no padding) of the val split, or of a fixed seeded subset
    of ``max_images`` of it; summed over ranks it covers every chosen image exactly once."""
    indices = list(range(len(dataset)))
    if 0 < max_images < len(dataset):
        g = torch.Generator().manual_seed(seed)
        indices = sorted(torch.randperm(len(dataset), generator=g)[:max_images].tolist())
    loader = build_loader(Subset(dataset, indices[rank::world]), batch_size, shuffle=False,
                          workers=workers, seed=seed, pin_memory=pin_memory)
    loader.worker_init_fn = ignore_in_worker
    return loader
