"""Checks shared by the LoL models: hyperparameters, module shapes, ranks, fitted state.

Every error names what was expected and what came, so a wrong zoo or a wrong config is
found at the first batch, not as a shape error deep inside a matmul.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from lolzoo.lol.base import LoraBatch


def resolve_hparams(kind: str, defaults: Mapping, given: Mapping) -> dict:
    """The defaults overridden by `given`; an unknown name is a ValueError listing the valid ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown} for model kind {kind!r}; "
                         f"valid: {sorted(defaults)}")
    return {**defaults, **given}


def normalise_shapes(shapes: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """[(n_k, m_k), ...] as tuples of positive ints (JSON gives lists)."""
    out = []
    for shape in shapes:
        if len(shape) != 2 or any(int(d) != d or d < 1 for d in shape):
            raise ValueError(f"a module shape is a pair of positive ints (n, m), got {shape!r}")
        out.append((int(shape[0]), int(shape[1])))
    if not out:
        raise ValueError("a LoL model needs at least one module shape")
    return out


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def hidden_sizes(value, name: str = "hidden") -> list[int]:
    """A list of positive ints (the widths of an MLP's hidden layers; may be empty)."""
    if isinstance(value, (int, str)):
        raise ValueError(f"{name} is a list of layer widths, got {value!r}")
    return [positive_int(h, name) for h in value]


def probability(value, name: str) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def check_shapes(batch: LoraBatch, shapes: Sequence[tuple[int, int]], kind: str) -> None:
    if batch.shapes != list(shapes):
        if len(batch.shapes) != len(shapes):
            raise ValueError(f"{kind} model was built for {len(shapes)} modules, the batch has {len(batch.shapes)}")
        k = next(i for i, (a, b) in enumerate(zip(batch.shapes, shapes)) if a != b)
        raise ValueError(f"{kind} model was built for module {k} of shape (n, m) = {shapes[k]}, "
                         f"the batch has {batch.shapes[k]}")


def check_rank(batch: LoraBatch, rank: int, kind: str) -> None:
    """For the models whose inputs are U and V themselves, so their size is fixed by the rank."""
    if batch.rank != rank:
        raise ValueError(f"{kind} model was built for rank {rank} and cannot take rank {batch.rank}: "
                         f"its input size depends on the rank. Zero-pad lower-rank LoRAs to rank {rank}, "
                         f"or use a rank-agnostic model ('svd', 'dense', 'glnet').")


def check_fitted(fitted: torch.Tensor, kind: str) -> None:
    if not bool(fitted):
        raise RuntimeError(f"{kind} model: call fit_preprocessing(train_batch) first "
                           f"(or load the state dict of a fitted model)")


def on_model(batch: LoraBatch, module: nn.Module) -> LoraBatch:
    """The batch on the device and in the floating dtype of the module's parameters."""
    param = next(p for p in module.parameters() if p.is_floating_point())
    return batch.to(device=param.device, dtype=param.dtype)


def batch_chunks(batch: LoraBatch, size: int) -> Iterable[LoraBatch]:
    """Consecutive slices of at most `size` LoRAs (fitting statistics without building all features at once)."""
    for start in range(0, batch.size, size):
        yield batch.take(slice(start, start + size))
