"""MLP + O-Align (paper, section 3): put every LoRA in a canonical O(r) gauge, then MLP.

Per module, X = [U; V] ((n+m)×r) is rotated by the orthogonal Q closest to mapping it onto
a template T from the training split (orthogonal Procrustes): Q = A Bᵀ for the SVD
Xᵀ T = A Σ Bᵀ. (U Q, V Q) is the same LoRA (Q^{-T} = Q), and X R for R ∈ O(r) gets
Q' = Rᵀ Q, so the aligned X R Q' = X Q: O(r)-invariant. Not GL(r)-invariant: a
non-orthogonal g changes X g beyond any rotation. Invariance needs Xᵀ T to be invertible
(then Q is unique), true unless the LoRA or the template is rank-deficient in that module.

Template: the training LoRA whose ‖ΔW‖_F (over all modules) is the median - a typical LoRA,
not an outlier, chosen from GL-invariant norms so the choice does not depend on the gauge
the training LoRAs came in, nor on their order (ties go to the first).
"""

from __future__ import annotations

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.feature_mlp import FeatureMLPModel
from lolzoo.lol.flat_mlp import flatten_lora
from lolzoo.lol.lora_products import product_sq_norm
from lolzoo.lol.validation import check_fitted


def median_index(values: torch.Tensor) -> int:
    order = torch.sort(values, stable=True).indices
    return int(order[(len(order) - 1) // 2])


def procrustes_rotation(x: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """(B, r, r) Q ∈ O(r) minimising ‖x Q − template‖_F, for x (B, N, r) and template (N, r)."""
    a, _, b_t = torch.linalg.svd(x.mT @ template)
    return a @ b_t


class OAlignMLP(FeatureMLPModel):
    kind = "o-align"

    def __init__(self, shapes, rank, out_dim, **hparams):
        super().__init__(shapes, rank, out_dim, **hparams)
        # Templates of all modules stacked: module k's [U_k; V_k] rows follow module k-1's.
        self.register_buffer("template", torch.zeros(sum(n + m for n, m in self.shapes), self.rank))
        self.register_buffer("template_fitted", torch.tensor(False))

    def feature_dim(self) -> int:
        return sum(n + m for n, m in self.shapes) * self.rank

    def fit_features(self, batch: LoraBatch) -> None:
        chosen = median_index(sum(product_sq_norm(u, v) for u, v in zip(batch.U, batch.V)))
        stacked = [torch.cat([u[chosen], v[chosen]]) for u, v in zip(batch.U, batch.V)]
        self.template.copy_(torch.cat(stacked))
        self.template_fitted.fill_(True)

    def module_templates(self) -> list[torch.Tensor]:
        return list(torch.split(self.template, [n + m for n, m in self.shapes]))

    def align(self, batch: LoraBatch) -> LoraBatch:
        check_fitted(self.template_fitted, self.kind)
        aligned_u, aligned_v = [], []
        for u, v, template in zip(batch.U, batch.V, self.module_templates()):
            q = procrustes_rotation(torch.cat([u, v], dim=-2), template)
            aligned_u.append(u @ q)
            aligned_v.append(v @ q)
        return LoraBatch(aligned_u, aligned_v)

    def features(self, batch: LoraBatch) -> torch.Tensor:
        aligned = self.align(batch)
        return flatten_lora(aligned.U, aligned.V)
