"""Quantities of ΔW = U Vᵀ computed without forming the n×m product: O((n + m) r) memory.

U (B, n, r) and V (B, m, r) are batched per module, as in a LoraBatch.
"""

from __future__ import annotations

import torch


def product_row_sums(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B, n) row sums of U Vᵀ, as U (Vᵀ 1). Column sums are product_row_sums(v, u)."""
    return (u @ v.sum(dim=-2, keepdim=True).mT).squeeze(-1)


def product_sq_norm(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B,) ‖U Vᵀ‖_F² = tr(UᵀU VᵀV) = Σ (UᵀU) ∘ (VᵀV), from r×r Gram matrices (GL-invariant)."""
    return ((u.mT @ u) * (v.mT @ v)).sum((-1, -2))
