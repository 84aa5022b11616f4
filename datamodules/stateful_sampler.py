"""A dataloader whose position inside an epoch survives a checkpoint, so a resumed run continues exactly.

Lightning stores ``state_dict()`` of every train dataloader that has one and hands it back through
``load_state_dict()`` on resume (``FitLoop.on_save_checkpoint``). torchdata's ``StatefulDataLoader`` is not installed,
so this is the small equivalent every DataModule uses for all of its splits:

- ``ResumableSampler`` is a ``DistributedSampler`` (Lightning leaves those in place under DDP instead of swapping in its
  own), shuffles from its own generator seeded by ``(seed, epoch)``, and can start part-way into an epoch;
- ``ResumableDataLoader`` counts the batches it has served this epoch and owns a generator for worker seeds, so creating
  an iterator never draws from the global torch RNG (which dropout uses): validation in the middle of training then
  leaves the training randomness untouched, with or without a resume.
"""

from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class ResumableSampler(DistributedSampler):
    """Shards and (optionally) shuffles by ``(seed, epoch)``; ``start`` skips the first samples of the next epoch."""

    def __init__(
        self,
        dataset: Dataset,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        world_size, world_rank = _world()
        super().__init__(
            dataset,
            num_replicas=world_size if num_replicas is None else num_replicas,
            rank=world_rank if rank is None else rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        start, self.start = self.start, 0
        return iter(indices[start:])


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` over a ``ResumableSampler`` with ``state_dict``/``load_state_dict`` for mid-epoch resume.

    ``len()`` stays the full epoch length after a resume, as Lightning's batch counting expects.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        num_workers: int = 0,
        sampler: ResumableSampler | None = None,
        **kwargs: Any,
    ) -> None:
        if sampler is None:
            sampler = ResumableSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        if not isinstance(sampler, ResumableSampler):
            raise ValueError(f"ResumableDataLoader needs a ResumableSampler, got {type(sampler).__name__}")
        kwargs.pop("generator", None)
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            collate_fn=collate_fn,
            num_workers=num_workers,
            generator=torch.Generator(),
            **kwargs,
        )
        self.seed = seed
        self.shuffle = shuffle
        self._served = 0
        self._resume_from = 0

    def __iter__(self) -> Iterator[Any]:
        return self._serve()

    def _serve(self) -> Iterator[Any]:
        sampler: ResumableSampler = self.sampler  # type: ignore[assignment]
        skip = self._resume_from if self._resume_from < len(self) else 0
        self._resume_from = 0
        sampler.start = skip * (self.batch_size or 1)
        self.generator.manual_seed(sampler.seed + sampler.epoch)
        self._served = skip
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Batches served so far in the current epoch (Lightning stores this in the checkpoint)."""
        return {"batches_served": self._served}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """The next iteration skips the batches the checkpointed run had already served this epoch."""
        self._resume_from = int(state_dict["batches_served"])
