"""MLP + SVD (paper, section 3): the singular values of each ΔW_k = U_k V_kᵀ.

GL-invariant (they are a function of ΔW) but not expressive: the singular vectors, which
say *what* was learned, are dropped. Computed from r×r matrices, never from ΔW itself:
with U = Q_u R_u and V = Q_v R_v (reduced QR, Q orthonormal columns),
U Vᵀ = Q_u (R_u R_vᵀ) Q_vᵀ has the singular values of the small R_u R_vᵀ.
Any input rank: the at most min(n, m, r) values are zero-padded or truncated (the smallest
dropped) to the rank the model was built with, so zero-padding a LoRA changes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.feature_mlp import FeatureMLPModel


def lora_singular_values(u: torch.Tensor, v: torch.Tensor, count: int) -> torch.Tensor:
    """(B, count): descending singular values of U Vᵀ for U (B, n, r), V (B, m, r)."""
    r_u = torch.linalg.qr(u, mode="r").R  # (B, min(n, r), r)
    r_v = torch.linalg.qr(v, mode="r").R
    values = torch.linalg.svdvals(r_u @ r_v.transpose(-1, -2))
    if values.shape[-1] >= count:
        return values[..., :count]
    return F.pad(values, (0, count - values.shape[-1]))


class SVDMLP(FeatureMLPModel):
    kind = "svd"
    rank_agnostic = True

    def feature_dim(self) -> int:
        return len(self.shapes) * self.rank

    def features(self, batch: LoraBatch) -> torch.Tensor:
        return torch.cat([lora_singular_values(u, v, self.rank) for u, v in zip(batch.U, batch.V)], dim=1)
