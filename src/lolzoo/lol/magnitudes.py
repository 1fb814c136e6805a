"""DoRA's magnitude vectors as model input (paper, appendix E).

A DoRA adapter adds to each low-rank pair (U, V) a magnitude vector m_k (one entry per output
feature). m_k does not depend on how ΔW is factored, so any function of it is GL(r)-invariant:
every model takes the concatenated magnitudes, standardised per entry with training
statistics, beside its own invariant features (the MLP baselines append them to their
features, GL-net to the input of its invariant head). A model built with magnitudes=True
needs them; a model built without ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lolzoo.lol.base import LoraBatch


def magnitude_dim(shapes: Sequence[tuple[int, int]]) -> int:
    """Σ n_k: one magnitude per output feature of every module."""
    return sum(n for n, _ in shapes)


def magnitude_features(batch: LoraBatch, kind: str) -> torch.Tensor:
    """(B, Σ n_k): every module's magnitude vector, in module order."""
    if batch.magnitudes is None:
        raise ValueError(f"{kind} model was trained on DoRA adapters and needs their magnitude vectors; "
                         "this batch holds plain LoRAs")
    return torch.cat(batch.magnitudes, dim=1)
