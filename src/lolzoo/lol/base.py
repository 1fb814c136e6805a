"""What every LoL model is: preprocessing (cheap, parameter-free, maybe fitted) then a network.

Input is a LoraBatch: per adapted module k, U[k] of shape (B, n_k, r) and V[k] of shape
(B, m_k, r), so that ΔW_k = U[k] @ V[k]ᵀ (α/r already folded into U, as load_zoo gives it).
Ranks may differ between batches; lower-rank LoRAs are zero-padded, which leaves ΔW exact.
Batches carry one rank r for all modules (zero padding makes any zoo so). A batch of DoRA
adapters also carries magnitudes[k] of shape (B, n_k): GL-invariant features beside U and V.

Every model splits into
- `fit_preprocessing(batch)`: statistics from the training split only (O-Align's template,
  input scales), called once before training;
- `preprocess(batch) -> features`: no trainable parameters; timed separately from
- `forward_features(features) -> (B, out_dim)`;
- `config() -> dict`: JSON-able, everything `build_model` needs to rebuild it, with fitted
  preprocessing state in buffers (saved with the weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LoraBatch:
    U: list[torch.Tensor]  # per module: (B, n_k, r)
    V: list[torch.Tensor]  # per module: (B, m_k, r)
    magnitudes: list[torch.Tensor] | None = None  # DoRA: per module (B, n_k); None for plain LoRAs

    def __post_init__(self):
        if len(self.U) != len(self.V) or not self.U:
            raise ValueError("a LoraBatch needs one U and one V per module")
        ranks = {t.shape[-1] for t in self.U} | {t.shape[-1] for t in self.V}
        sizes = {t.shape[0] for t in self.U} | {t.shape[0] for t in self.V}
        if len(ranks) != 1 or len(sizes) != 1:
            raise ValueError(f"a LoraBatch has one batch size and one rank, got sizes {sizes} and ranks {ranks}")
        if self.magnitudes is not None and [tuple(m.shape) for m in self.magnitudes] != [
                (u.shape[0], u.shape[1]) for u in self.U]:
            raise ValueError("DoRA magnitudes must be one (B, n_k) tensor per module")

    @property
    def size(self) -> int:
        return int(self.U[0].shape[0])

    @property
    def rank(self) -> int:
        return int(self.U[0].shape[-1])

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(int(u.shape[1]), int(v.shape[1])) for u, v in zip(self.U, self.V)]

    def take(self, index: torch.Tensor | slice) -> "LoraBatch":
        return LoraBatch([u[index] for u in self.U], [v[index] for v in self.V],
                         None if self.magnitudes is None else [m[index] for m in self.magnitudes])

    def to(self, *args, **kwargs) -> "LoraBatch":
        return LoraBatch([u.to(*args, **kwargs) for u in self.U], [v.to(*args, **kwargs) for v in self.V],
                         None if self.magnitudes is None else [m.to(*args, **kwargs) for m in self.magnitudes])

    def transformed(self, g: list[torch.Tensor] | torch.Tensor) -> "LoraBatch":
        """(U g_k, V g_k^{-T}) per module; g of shape (r, r) or (B, r, r), or a list of those per module."""
        gs = g if isinstance(g, list) else [g] * len(self.U)
        return LoraBatch([u @ gk for u, gk in zip(self.U, gs)],
                         [v @ torch.linalg.inv(gk).transpose(-1, -2) for v, gk in zip(self.V, gs)],
                         self.magnitudes)  # invariant: DoRA magnitudes do not see g


class LoLModel(nn.Module):
    """Base class; subclasses set `kind` and implement preprocess / forward_features / config."""

    kind: str = ""
    rank_agnostic: bool = True  # any input rank; models whose input size is fixed by the rank set False
    magnitudes: bool = False  # True: built to read DoRA magnitude vectors beside U and V

    def fit_preprocessing(self, batch: LoraBatch) -> None:
        """Default: nothing to fit."""

    def preprocess(self, batch: LoraBatch):
        raise NotImplementedError

    def forward_features(self, features) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: LoraBatch) -> torch.Tensor:
        return self.forward_features(self.preprocess(batch))

    def config(self) -> dict:
        raise NotImplementedError
