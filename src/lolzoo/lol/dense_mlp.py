"""MLP + Dense (paper, section 3): multiply out ΔW_k = U_k V_kᵀ and flatten.

GL-invariant (U g (V g^{-T})ᵀ = U Vᵀ) and loses nothing, but the input has Σ n_k·m_k
entries (46.8 million for CelebA-LoRA) and so does the first layer's fan-in. Any rank in:
the features do not depend on it.
"""

from __future__ import annotations

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.feature_mlp import FeatureMLPModel


class DenseMLP(FeatureMLPModel):
    kind = "dense"
    rank_agnostic = True

    def feature_dim(self) -> int:
        return sum(n * m for n, m in self.shapes)

    def features(self, batch: LoraBatch) -> torch.Tensor:
        return torch.cat([(u @ v.transpose(-1, -2)).flatten(1) for u, v in zip(batch.U, batch.V)], dim=1)
