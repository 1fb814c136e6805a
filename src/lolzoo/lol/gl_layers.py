"""The GL(r)-equivariant building blocks of GL-net (paper, section 3.2).

Both act on a LoraBatch: per module k, U_k (B, n_k, r) and V_k (B, m_k, r), on which
g_k ∈ GL(r) acts as (U_k g_k, V_k g_k^{-T}), independently per module. Each layer commutes
with that action: layer(x · g) = layer(x) · g (tested in tests/lol/test_gl_layers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.lora_products import product_row_sums


class EquivariantLinear(nn.Module):
    """U'_k = W_U,k U_k and V'_k = W_V,k V_k: mixes rows (the n or m dimension), never the rank
    dimension, so it commutes with right-multiplication by g and by g^{-T}.

    By Proposition 1 of the paper these are all the GL(r)-equivariant linear maps: U and V
    carry non-isomorphic representations (g and g^{-T}), and different modules independent
    groups, so nothing maps U to V or one module to another. No bias: a constant added to U
    would not move with g. Parameters: Σ_k out_rows·(n_k + m_k).
    """

    def __init__(self, in_shapes: Sequence[tuple[int, int]], out_rows: int):
        super().__init__()
        self.in_shapes = [tuple(s) for s in in_shapes]
        self.out_rows = out_rows
        # 1/sqrt(fan-in) keeps the entries of W_U ΔW W_Vᵀ on the scale of those of ΔW.
        self.weight_u = nn.ParameterList([nn.Parameter(torch.randn(out_rows, n) / n ** 0.5) for n, _ in self.in_shapes])
        self.weight_v = nn.ParameterList([nn.Parameter(torch.randn(out_rows, m) / m ** 0.5) for _, m in self.in_shapes])

    def forward(self, x: LoraBatch) -> LoraBatch:
        return LoraBatch([_rows_times(w, u) for w, u in zip(self.weight_u, x.U)],
                         [_rows_times(w, v) for w, v in zip(self.weight_v, x.V)])

    def extra_repr(self) -> str:
        return f"modules={len(self.in_shapes)}, out_rows={self.out_rows}"


def _rows_times(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """w @ x for x of shape (B, n, r), computed as (xᵀ wᵀ)ᵀ: with x rank-major, as load_zoo lays
    it out, xᵀ is one contiguous (B·r, n) matrix and this is a single large matrix product
    (2-3x faster than w @ x, which runs B thin products)."""
    return (x.mT @ w.mT).mT


def step(x: torch.Tensor) -> torch.Tensor:
    """relu(sign(x)): 1 where x > 0, else 0 (the paper's code)."""
    return (x > 0).to(x.dtype)


GATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"sigmoid": torch.sigmoid, "step": step}


class GLGate(nn.Module):
    """Row i of U scaled by σ(i-th row sum of U Vᵀ), row j of V by σ(j-th column sum).

    Equivariant: the sums are sums of entries of U Vᵀ, which g does not change, and scaling
    rows commutes with right-multiplication by g. The sums come from U (Vᵀ 1) and V (Uᵀ 1),
    never from the n×m product.
    """

    def __init__(self, gate: str = "step"):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"unknown gate {gate!r}; valid: {sorted(GATES)}")
        self.gate = gate
        self.sigma = GATES[gate]

    def forward(self, x: LoraBatch) -> LoraBatch:
        return LoraBatch([u * self.sigma(product_row_sums(u, v)).unsqueeze(-1) for u, v in zip(x.U, x.V)],
                         [v * self.sigma(product_row_sums(v, u)).unsqueeze(-1) for u, v in zip(x.U, x.V)])

    def extra_repr(self) -> str:
        return f"gate={self.gate}"
