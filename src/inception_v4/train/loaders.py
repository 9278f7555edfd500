"""Training and evaluation loaders over the data package, with reproducible order.

The order of an epoch is a function of ``(seed, epoch)`` only (``DistributedSampler``'s
permutation, sharded across ranks), and every sample's augmentation is drawn from a
generator seeded with ``(seed, epoch, index)``, independent of the workers and of what ran
before. So a run resumed in the middle of an epoch (``start`` batches skipped) sees exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset

from ..data import ImageDataset, build_loader


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of sample ``index`` in ``epoch``."""
    return ((seed * 1_000_003 + epoch) * 2_654_435_761 + index) % (2**63)


class EpochSampler(Sampler):
    """``(index, sample_seed)`` pairs of this rank's share of epoch ``epoch``.

    ``set_epoch(epoch, start)`` skips the first ``start`` batches (mid-epoch resume).
    """

    def __init__(self, n: int, batch_size: int, rank: int, world: int, seed: int) -> None:
        self.order = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True,
                                        seed=seed, drop_last=False)
        self.batch_size, self.seed, self.epoch, self.start = batch_size, seed, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start
        self.order.set_epoch(epoch)

    def steps_per_epoch(self) -> int:
        return len(self.order) // self.batch_size

    def __len__(self) -> int:
        return (self.steps_per_epoch() - self.start) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(self.order)[self.start * self.batch_size:]
        return iter([(i, sample_seed(self.seed, self.epoch, i)) for i in indices][:len(self)])


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
                 seed: int, workers: int) -> DataLoader:
    """A loader whose ``sampler`` is an :class:`EpochSampler` (call its ``set_epoch``)."""
    sampler = EpochSampler(len(dataset), per_rank_batch, rank, world, seed)
    if sampler.steps_per_epoch() < 1:
        raise ValueError(f"the training split has {len(dataset)} images, fewer than one batch "
                         f"of {per_rank_batch} per rank; lower --batch-size")
    return build_loader(SeededSamples(dataset), per_rank_batch, shuffle=False, workers=workers,
                        sampler=sampler, seed=seed, drop_last=True)


def eval_loader(dataset: ImageDataset, batch_size: int, rank: int, world: int, seed: int,
                workers: int, max_images: int = 0) -> DataLoader:
    """This rank's disjoint share (no padding) of the val split, or of a fixed seeded subset
    of ``max_images`` of it; summed over ranks it covers every chosen image exactly once."""
    indices = list(range(len(dataset)))
    if 0 < max_images < len(dataset):
        g = torch.Generator().manual_seed(seed)
        indices = sorted(torch.randperm(len(dataset), generator=g)[:max_images].tolist())
    return build_loader(Subset(dataset, indices[rank::world]), batch_size, shuffle=False,
                        workers=workers, seed=seed)
