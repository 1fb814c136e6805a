"""GL-net (paper, section 3.2): GL-equivariant layers per module, then an invariant head.

    input scaling (one positive scalar per module, fitted on train)
    → EquivariantLinear (n_k, m_k rows → h rows) → [GLGate → EquivariantLinear (h → h)] × (layers − 1)
    → per module the h×h product P_k = U'_k V'_kᵀ (GL-invariant: g cancels)
    → head → MLP → out_dim     (DoRA: the standardised magnitude vectors join the head's input)

Nothing depends on the rank r (weights act on rows), so one model takes any rank, and
zero-padded rank columns stay zero through every layer and add nothing to P_k.

Choices:
- layers, default 1: what the paper ran on its three diffusion zoos (its Qwen2 runs used 2),
  and in benchmarks/glnet_depth_and_gate.py (3 seeds, 3000 training LoRAs) 1 layer beat 2
  and 3 on the target linear in ΔW (test R² 0.96-0.97 against 0.68-0.90); on its two
  nonlinear targets every depth over-fits (test R² < 0). More layers bring in the gate.
- gate σ, default "step" = relu(sign(x)), the paper's. It is scale-free (σ(c·x) = σ(x) for
  c > 0), so the whole equivariant trunk stays positively homogeneous: the gates depend on
  the direction of ΔW only, not on the input scale or the norm of the hidden weights. In the
  same benchmark the step generalised as well or better in 5 of 6 comparisons (2 and 3
  layers × 3 seeds), while "sigmoid" fitted the training set closer and over-fit more.
  The price: no gradient through the gate itself, and a gate flips when a row sum crosses 0
  (invariance is unaffected: the sums are invariant). "sigmoid" gives smooth gates.
- head, default "flat": all P_k flattened and concatenated (K·h² inputs), as in the paper.
  "module-mean": one MLP trunk shared by every module's flattened P_k, the K outputs averaged,
  then the readout; every P_k is h×h after the first layer, so one shared trunk fits all
  modules whatever their original shapes, and the per-module equivariant weights still tell
  modules apart. "entry-mean": each P_k averaged over its h² entries (one number per
  module) then the MLP - what the paper's code does for CLIP score ("products mean-pooled").
- input scaling: ΔW_k times s_k = 1/RMS of ΔW_k's entries over the training LoRAs (U_k and V_k
  each times √s_k). A positive scalar per module commutes with g; per-entry standardisation
  would not. RMS is computed from r×r Gram matrices, GL-invariantly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lolzoo.lol.base import LoLModel, LoraBatch
from lolzoo.lol.gl_layers import GATES, EquivariantLinear, GLGate
from lolzoo.lol.lora_products import product_sq_norm
from lolzoo.lol.magnitudes import magnitude_dim, magnitude_features
from lolzoo.lol.mlp import MLP
from lolzoo.lol.standardize import FeatureStandardizer
from lolzoo.lol.validation import (check_fitted, check_shapes, hidden_sizes, normalise_shapes, on_model,
                                   positive_int, probability, resolve_hparams)

HEADS = ("flat", "module-mean", "entry-mean")


def module_products(x: LoraBatch) -> torch.Tensor:
    """(B, K, h, h): U'_k V'_kᵀ per module (all modules have h rows after the first layer)."""
    return torch.stack([u @ v.mT for u, v in zip(x.U, x.V)], dim=1)


class InvariantHead(nn.Module):
    """GL-invariant products of the equivariant features → prediction; see the module docstring.
    `extra_dim` more invariant inputs (DoRA magnitudes) join the MLP's input, or with the
    module-mean head, the pooled trunk output (they belong to no single module)."""

    def __init__(self, modules: int, rows: int, out_dim: int, head: str, hidden: Sequence[int], dropout: float,
                 extra_dim: int = 0):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown GL-net head {head!r}; valid: {list(HEADS)}")
        self.head = head
        in_dim = {"flat": modules * rows * rows, "module-mean": rows * rows, "entry-mean": modules}[head]
        if head == "module-mean":
            self.mlp = MLP(in_dim, out_dim, hidden, dropout)
            if extra_dim:
                self.mlp.readout = nn.Linear(self.mlp.width + extra_dim, out_dim)
        else:
            self.mlp = MLP(in_dim + extra_dim, out_dim, hidden, dropout)

    def forward(self, x: LoraBatch, extra: torch.Tensor | None = None) -> torch.Tensor:
        products = module_products(x)
        if self.head == "module-mean":
            pooled = self.mlp.trunk(products.flatten(2)).mean(dim=1)
            return self.mlp.readout(pooled if extra is None else torch.cat([pooled, extra], dim=1))
        inputs = products.flatten(1) if self.head == "flat" else products.mean(dim=(-1, -2))
        return self.mlp(inputs if extra is None else torch.cat([inputs, extra], dim=1))


class GLNet(LoLModel):
    kind = "glnet"
    DEFAULT_HPARAMS = {"equivariant_hidden": 16, "layers": 1, "gate": "step", "head": "flat",
                       "hidden": [64], "dropout": 0.0}

    def __init__(self, shapes: Sequence[tuple[int, int]], rank: int, out_dim: int, magnitudes: bool = False,
                 **hparams):
        super().__init__()
        self.shapes = normalise_shapes(shapes)
        self.rank = positive_int(rank, "rank")  # recorded only: any rank goes in
        self.out_dim = positive_int(out_dim, "out_dim")
        self.magnitudes = bool(magnitudes)
        hp = resolve_hparams(self.kind, self.DEFAULT_HPARAMS, hparams)
        h = hp["equivariant_hidden"] = positive_int(hp["equivariant_hidden"], "equivariant_hidden")
        hp["layers"] = positive_int(hp["layers"], "layers")
        hp["hidden"], hp["dropout"] = hidden_sizes(hp["hidden"]), probability(hp["dropout"], "dropout")
        if hp["gate"] not in GATES:
            raise ValueError(f"unknown GL-net gate {hp['gate']!r}; valid: {sorted(GATES)}")
        self.hparams = hp

        self.register_buffer("module_scale", torch.ones(len(self.shapes)))
        self.register_buffer("scale_fitted", torch.tensor(False))
        hidden_shapes = [(h, h)] * len(self.shapes)
        self.linears = nn.ModuleList([EquivariantLinear(self.shapes, h)] +
                                     [EquivariantLinear(hidden_shapes, h) for _ in range(hp["layers"] - 1)])
        self.gate = GLGate(hp["gate"])
        extra_dim = magnitude_dim(self.shapes) if self.magnitudes else 0
        # magnitudes are invariant features, so per-entry standardisation is allowed for them (not for U, V)
        self.magnitude_standardizer = FeatureStandardizer(extra_dim) if self.magnitudes else None
        self.head = InvariantHead(len(self.shapes), h, self.out_dim, hp["head"], hp["hidden"], hp["dropout"],
                                  extra_dim)

    def checked(self, batch: LoraBatch) -> LoraBatch:
        check_shapes(batch, self.shapes, self.kind)
        return on_model(batch, self)

    @torch.no_grad()
    def fit_preprocessing(self, batch: LoraBatch) -> None:
        batch = self.checked(batch)
        for k, ((n, m), u, v) in enumerate(zip(self.shapes, batch.U, batch.V)):
            rms = (product_sq_norm(u, v).double().mean() / (n * m)).sqrt()
            self.module_scale[k] = 1.0 / rms if rms > 0 else 1.0
        if self.magnitudes:
            self.magnitude_standardizer.fit([magnitude_features(batch, self.kind)])
        self.scale_fitted.fill_(True)

    def preprocess(self, batch: LoraBatch) -> LoraBatch:
        """Only checks: GL-net reads U and V as they are. The fitted input scale is applied
        after the first (linear) layer, on h rows instead of n, so no copy of the LoRA is made."""
        check_fitted(self.scale_fitted, self.kind)
        batch = self.checked(batch)
        if not self.magnitudes:
            return LoraBatch(batch.U, batch.V)  # plain LoRA model: a DoRA adapter's magnitudes are not used
        standardized = self.magnitude_standardizer(magnitude_features(batch, self.kind))
        return LoraBatch(batch.U, batch.V, list(standardized.split([n for n, _ in self.shapes], dim=1)))

    def equivariant_features(self, x: LoraBatch) -> LoraBatch:
        """The equivariant part: (B, h, r) per module for U and for V."""
        x = self.linears[0](x)
        root = self.module_scale.sqrt()  # W (√s U) = √s (W U)
        x = LoraBatch([u * s for u, s in zip(x.U, root)], [v * s for v, s in zip(x.V, root)])
        for linear in self.linears[1:]:
            x = linear(self.gate(x))
        return x

    def forward_features(self, features: LoraBatch) -> torch.Tensor:
        extra = torch.cat(features.magnitudes, dim=1) if self.magnitudes else None
        return self.head(self.equivariant_features(features), extra)

    def config(self) -> dict:
        return {"kind": self.kind, "shapes": [list(s) for s in self.shapes], "rank": self.rank,
                "out_dim": self.out_dim, "magnitudes": self.magnitudes,
                "hparams": {**self.hparams, "hidden": list(self.hparams["hidden"])}}
