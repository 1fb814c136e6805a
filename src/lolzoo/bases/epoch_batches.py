"""Which examples each pretraining step sees: seeded shuffles, a new one whenever an epoch runs out."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def epoch_batches(count: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless index batches of `batch_size` from a seeded permutation of range(count); an epoch's
    short remainder is skipped and the next batch starts a fresh permutation. Lazy, so each
    permutation is drawn from `generator` right before the step that first uses it."""
    order, cursor = torch.randperm(count, generator=generator), 0
    while True:
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(count, generator=generator), 0
        yield order[cursor:cursor + batch_size]
        cursor += batch_size
