"""MLP (paper, section 3): every entry of every U and V, flattened. No invariance at all:
(U g, V g^{-T}) is the same LoRA but a different input. The baseline the others must beat."""

from __future__ import annotations

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.feature_mlp import FeatureMLPModel


def flatten_lora(U: list[torch.Tensor], V: list[torch.Tensor]) -> torch.Tensor:
    """(B, Σ_k (n_k + m_k)·r): per module, U then V."""
    return torch.cat([t.flatten(1) for u, v in zip(U, V) for t in (u, v)], dim=1)


class FlatMLP(FeatureMLPModel):
    kind = "mlp"

    def feature_dim(self) -> int:
        return sum(n + m for n, m in self.shapes) * self.rank

    def features(self, batch: LoraBatch) -> torch.Tensor:
        return flatten_lora(batch.U, batch.V)
