"""A small GL-invariant LoLModel for the training tests, independent of the five paper models.

Per module it reads the r x r product G = (UᵀU)(VᵀV), similar to itself under (U g, V g^{-T}),
so tr G = ||ΔW||_F² and tr G² = Σσ⁴ are invariant; their logs, standardised with statistics
fitted on the training split (buffers, so artifacts must keep them), feed a small MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from lolzoo.lol.base import LoLModel, LoraBatch


class GramModel(LoLModel):
    kind = "gram-test"

    def __init__(self, shapes, rank, out_dim, hidden=16):
        super().__init__()
        self.shapes, self.rank, self.out_dim, self.hidden = [tuple(s) for s in shapes], rank, out_dim, hidden
        width = 2 * len(self.shapes)
        self.register_buffer("feature_mean", torch.zeros(width))
        self.register_buffer("feature_std", torch.ones(width))
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def _raw(self, batch: LoraBatch) -> torch.Tensor:
        columns = []
        for u, v in zip(batch.U, batch.V):
            gram = (u.transpose(1, 2) @ u) @ (v.transpose(1, 2) @ v)
            columns.append(torch.log(gram.diagonal(dim1=1, dim2=2).sum(-1) + 1e-8))
            columns.append(0.5 * torch.log((gram @ gram).diagonal(dim1=1, dim2=2).sum(-1) + 1e-8))
        return torch.stack(columns, dim=1)

    def fit_preprocessing(self, batch):
        raw = self._raw(batch)
        self.feature_mean.copy_(raw.mean(0))
        self.feature_std.copy_(raw.std(0).clamp_min(1e-6))

    def preprocess(self, batch):
        return (self._raw(batch) - self.feature_mean) / self.feature_std

    def forward_features(self, features):
        return self.net(features)

    def config(self):
        return {"kind": self.kind, "shapes": [list(s) for s in self.shapes], "rank": self.rank,
                "out_dim": self.out_dim, "hidden": self.hidden}


def build_gram_model(kind, shapes, rank, out_dim, **hparams) -> GramModel:
    assert kind == GramModel.kind, kind
    return GramModel(shapes, rank, out_dim, **hparams)
