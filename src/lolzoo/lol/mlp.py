"""The MLP every LoL model ends in: [Linear → LayerNorm → ReLU → Dropout] per hidden width, then Linear.

LayerNorm after each hidden Linear as in the paper's code: the inputs (flattened weights,
products of weights) have scales that vary by orders of magnitude between zoos.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lolzoo.lol.validation import hidden_sizes, positive_int, probability


class MLP(nn.Module):
    """`trunk` (the hidden layers) and `readout` (the last Linear) are separate so that a head
    can pool between them (GL-net's module-mean head)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (64,), dropout: float = 0.0):
        super().__init__()
        width, layers = positive_int(in_dim, "in_dim"), []
        dropout = probability(dropout, "dropout")
        for h in hidden_sizes(hidden):
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.trunk = nn.Sequential(*layers)
        self.readout = nn.Linear(width, positive_int(out_dim, "out_dim"))

    @property
    def width(self) -> int:
        """Width of the trunk's output (the readout's input)."""
        return self.readout.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.trunk(x))
