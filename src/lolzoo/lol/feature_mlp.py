"""What MLP, O-Align, SVD and Dense share: parameter-free features (with DoRA magnitudes appended
when built with magnitudes=True), standardised per feature with training statistics, then an
MLP. Subclasses only say how a batch becomes features."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lolzoo.lol.base import LoLModel, LoraBatch
from lolzoo.lol.magnitudes import magnitude_dim, magnitude_features
from lolzoo.lol.mlp import MLP
from lolzoo.lol.standardize import FeatureStandardizer
from lolzoo.lol.validation import (batch_chunks, check_fitted, check_rank, check_shapes, hidden_sizes,
                                   normalise_shapes, on_model, positive_int, probability,
                                   resolve_hparams)

# LoRAs per chunk when fitting statistics: bounds the memory of Dense's multiplied-out features.
FIT_CHUNK = 64

MLP_DEFAULTS = {"hidden": [64], "dropout": 0.0}


class FeatureMLPModel(LoLModel):
    DEFAULT_HPARAMS: dict = MLP_DEFAULTS
    rank_agnostic = False  # subclasses whose features do not depend on the rank (SVD, Dense) set True

    def __init__(self, shapes: Sequence[tuple[int, int]], rank: int, out_dim: int, magnitudes: bool = False,
                 **hparams):
        super().__init__()
        self.shapes = normalise_shapes(shapes)
        self.rank = positive_int(rank, "rank")
        self.out_dim = positive_int(out_dim, "out_dim")
        self.magnitudes = bool(magnitudes)
        hp = resolve_hparams(self.kind, self.DEFAULT_HPARAMS, hparams)
        hp["hidden"], hp["dropout"] = hidden_sizes(hp["hidden"]), probability(hp["dropout"], "dropout")
        self.hparams = hp
        dim = self.feature_dim() + (magnitude_dim(self.shapes) if self.magnitudes else 0)
        self.standardizer = FeatureStandardizer(dim)
        self.mlp = MLP(dim, self.out_dim, hp["hidden"], hp["dropout"])

    # --- what subclasses define
    def feature_dim(self) -> int:
        raise NotImplementedError

    def features(self, batch: LoraBatch) -> torch.Tensor:
        """(B, feature_dim), before standardisation; batch already checked and cast."""
        raise NotImplementedError

    def fit_features(self, batch: LoraBatch) -> None:
        """Hook for state the features need (O-Align's template), fitted before the standardisation."""

    def model_input(self, batch: LoraBatch) -> torch.Tensor:
        """The features, and the DoRA magnitudes after them when the model takes them."""
        features = self.features(batch)
        if not self.magnitudes:
            return features
        return torch.cat([features, magnitude_features(batch, self.kind).to(features.dtype)], dim=1)

    # --- the LoLModel interface
    def checked(self, batch: LoraBatch) -> LoraBatch:
        check_shapes(batch, self.shapes, self.kind)
        if not self.rank_agnostic:
            check_rank(batch, self.rank, self.kind)
        return on_model(batch, self)

    @torch.no_grad()
    def fit_preprocessing(self, batch: LoraBatch) -> None:
        batch = self.checked(batch)
        self.fit_features(batch)
        self.standardizer.fit(self.model_input(chunk) for chunk in batch_chunks(batch, FIT_CHUNK))

    def preprocess(self, batch: LoraBatch) -> torch.Tensor:
        check_fitted(self.standardizer.fitted, self.kind)
        return self.standardizer(self.model_input(self.checked(batch)))

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features)

    def config(self) -> dict:
        return {"kind": self.kind, "shapes": [list(s) for s in self.shapes], "rank": self.rank,
                "out_dim": self.out_dim, "magnitudes": self.magnitudes,
                "hparams": {**self.hparams, "hidden": list(self.hparams["hidden"])}}
