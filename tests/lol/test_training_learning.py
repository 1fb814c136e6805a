"""What is learned: GL-invariant targets on a zoo where every LoRA has its own random g ∈ GL(r).

The target `linear_functional` (Σ_k <C_k, ΔW_k>) is linear in ΔW: MLP + Dense and a one-layer
GL-net (whose products W_U ΔW_k W_Vᵀ are linear in ΔW), each with a linear head, can represent
it exactly and learn it; the plain MLP sees (U g, V g^{-T}) and cannot; MLP + SVD is blind to
it (singular values do not know the sign of <C, ΔW>). `frob_norm_total` is a function of the
singular values, which MLP + SVD learns. Numbers in the assertion messages.
"""

from __future__ import annotations

import pytest

from lolzoo.lol.train import fit
from lolzoo.zoo import load_zoo
from tests.small_zoo import write_small_zoo

SETTINGS = {"epochs": 30, "lr": 3e-3, "batch_size": 32}

# (target, model kind, model hparams, lowest test R², highest test R²)
EXPECTATIONS = [
    ("linear_functional", "glnet", {"layers": 1, "hidden": []}, 0.9, 1.0),
    ("linear_functional", "dense", {"hidden": []}, 0.9, 1.0),
    ("linear_functional", "mlp", {}, -10.0, 0.5),
    ("linear_functional", "svd", {}, -10.0, 0.5),
    ("frob_norm_total", "svd", {}, 0.9, 1.0),
    ("frob_norm_total", "mlp", {}, -10.0, 0.5),
]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return load_zoo(write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", 600))


@pytest.mark.parametrize("target, kind, hparams, low, high", EXPECTATIONS,
                         ids=[f"{t}-{k}" for t, k, *_ in EXPECTATIONS])
def test_learning_gl_invariant_targets(zoo, target, kind, hparams, low, high):
    result = fit(kind, zoo, "regression", [target], seed=0, hparams={**SETTINGS, **hparams})
    r2 = result.metrics["test"]["r2"]
    assert low <= r2 <= high, f"{kind} on {target}: test R² {r2:.3f}, expected in [{low}, {high}]"
