"""Row-wise access to whatever a model's `preprocess` returns.

Preprocessing has no trainable parameters, so training can compute it once per LoRA and then
draw mini-batches from the cached features.  Features may be a tensor, a LoraBatch, or lists,
tuples and dicts of those, each with the LoRAs along the first axis; anything else (or a
tensor whose first axis is not the batch) is not cacheable and is preprocessed per batch.
"""

from __future__ import annotations

import torch

from lolzoo.lol.base import LoraBatch


def rows_leading(features, size: int) -> bool:
    """True when every tensor in `features` has `size` rows (one per LoRA) and nothing else is inside."""
    if isinstance(features, torch.Tensor):
        return features.ndim >= 1 and features.shape[0] == size
    if isinstance(features, LoraBatch):
        return features.size == size
    if isinstance(features, (list, tuple)):
        return all(rows_leading(f, size) for f in features)
    if isinstance(features, dict):
        return all(rows_leading(f, size) for f in features.values())
    return False


def take_rows(features, index: torch.Tensor):
    """The same structure holding only the rows `index`."""
    if isinstance(features, torch.Tensor):
        return features[index]
    if isinstance(features, LoraBatch):
        return features.take(index)
    if isinstance(features, tuple):
        return tuple(take_rows(f, index) for f in features)
    if isinstance(features, list):
        return [take_rows(f, index) for f in features]
    if isinstance(features, dict):
        return {k: take_rows(f, index) for k, f in features.items()}
    raise TypeError(f"cannot take rows of {type(features).__name__}")


def feature_bytes(features) -> int:
    if isinstance(features, torch.Tensor):
        return features.numel() * features.element_size()
    if isinstance(features, LoraBatch):
        return sum(feature_bytes(t) for t in features.U + features.V + (features.magnitudes or []))
    if isinstance(features, (list, tuple)):
        return sum(feature_bytes(f) for f in features)
    if isinstance(features, dict):
        return sum(feature_bytes(f) for f in features.values())
    return 0
