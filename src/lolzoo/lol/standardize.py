"""Per-feature standardisation with statistics of the training split only.

Used by the models whose features are not equivariant objects (MLP, O-Align, SVD, Dense):
a fixed affine map of invariant features keeps them invariant. GL-net must not use it
(scaling single entries of U or V breaks equivariance); it scales whole modules instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

# A feature whose train std is below this fraction of the typical std is constant on train
# (e.g. singular values beyond the zoo's rank): dividing by ~0 would blow up test inputs
# that do vary, so such features are divided by the typical std instead.
CONSTANT_FRACTION = 1e-6


class FeatureStandardizer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, chunks: Iterable[torch.Tensor]) -> None:
        """Mean and std per feature over (B, dim) chunks, merged in float64 (Chan et al.) so
        that a zoo's features never have to fit in memory at once."""
        count, mean, m2 = 0, None, None
        for x in chunks:
            x = x.detach().to(torch.float64).reshape(x.shape[0], -1)
            n_b, mean_b = x.shape[0], x.mean(0)
            m2_b = ((x - mean_b) ** 2).sum(0)
            if mean is None:
                count, mean, m2 = n_b, mean_b, m2_b
                continue
            delta, total = mean_b - mean, count + n_b
            mean = mean + delta * (n_b / total)
            m2 = m2 + m2_b + delta ** 2 * (count * n_b / total)
            count = total
        if mean is None:
            raise ValueError("cannot fit a standardisation on no data")
        if mean.shape != self.mean.shape:
            raise ValueError(f"features have {mean.numel()} entries, the standardisation expects {self.mean.numel()}")
        std = (m2 / count).sqrt()
        typical = std.mean()
        typical = typical if typical > 0 else torch.ones_like(typical)
        constant = std <= CONSTANT_FRACTION * typical
        self.mean.copy_(mean)
        self.scale.copy_(torch.where(constant, typical, std))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale
