"""The closed-form reference: GL-invariant scale features, and a linear fit that sees no test row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lolzoo.lol import metrics
from lolzoo.lol.base import LoraBatch
from lolzoo.lol.reference import fit_reference, fit_reference_on_split, invariant_features
from lolzoo.lol.split import assign_splits
from lolzoo.lol.testing import gl_action

SHAPES = [(16, 12), (10, 20), (8, 8)]


def synthetic_zoo(n: int = 600, r: int = 4, seed: int = 0) -> tuple[list[str], LoraBatch]:
    """LoRAs whose per-module scale varies over two orders of magnitude, float64."""
    g = torch.Generator().manual_seed(seed)
    us, vs = [], []
    for rows, cols in SHAPES:
        scale = torch.exp(torch.rand(n, 1, 1, generator=g, dtype=torch.float64) * 4.6 - 2.3)
        us.append(scale * torch.randn(n, rows, r, generator=g, dtype=torch.float64))
        vs.append(torch.randn(n, cols, r, generator=g, dtype=torch.float64))
    return [f"syn-{i:05d}" for i in range(n)], LoraBatch(us, vs)


def dense_log_norm(batch: LoraBatch, module: int) -> np.ndarray:
    """log ‖U Vᵀ‖_F from the dense product: the check of the r×r route."""
    return torch.log(torch.linalg.matrix_norm(batch.U[module] @ batch.V[module].mT)).numpy()


def test_features_match_the_dense_product():
    _, batch = synthetic_zoo(20)
    features = invariant_features(batch.U, batch.V, singular_values=6)
    assert features.shape == (20, len(SHAPES) * 7)
    for k in range(len(SHAPES)):
        block = features[:, k * 7:(k + 1) * 7]
        np.testing.assert_allclose(block[:, 0], dense_log_norm(batch, k), rtol=1e-10)
        dense = torch.linalg.svdvals(batch.U[k] @ batch.V[k].mT).numpy()
        np.testing.assert_allclose(block[:, 1:5], dense[:, :4], rtol=1e-8, atol=1e-10)
        assert (block[:, 5:] == 0).all()  # rank 4: padded to 6 values with zeros
    assert invariant_features(batch.U, batch.V, singular_values=2).shape == (20, len(SHAPES) * 3)  # truncated


def test_features_are_gl_invariant():
    _, batch = synthetic_zoo(50)
    act = gl_action(batch, generator=torch.Generator().manual_seed(1))
    moved = act(batch)
    assert not torch.allclose(moved.U[0], batch.U[0])
    np.testing.assert_allclose(invariant_features(moved.U, moved.V), invariant_features(batch.U, batch.V),
                               rtol=1e-8, atol=1e-8)


def test_features_see_a_change_of_the_lora():
    """Negative control: another ΔW (not a GL move of the same one) gives other features."""
    _, batch = synthetic_zoo(50)
    other = [v + 0.5 * torch.randn(v.shape, generator=torch.Generator().manual_seed(2), dtype=v.dtype)
             for v in batch.V]
    difference = np.abs(invariant_features(batch.U, other) - invariant_features(batch.U, batch.V))
    assert (difference.max(axis=1) > 1e-3).all()


def test_features_ignore_zero_rank_padding_and_accept_float32_numpy():
    _, batch = synthetic_zoo(10)
    padded_u = [torch.nn.functional.pad(u, (0, 3)) for u in batch.U]
    padded_v = [torch.nn.functional.pad(v, (0, 3)) for v in batch.V]
    np.testing.assert_allclose(invariant_features(padded_u, padded_v), invariant_features(batch.U, batch.V),
                               rtol=1e-10, atol=1e-12)
    as_numpy = invariant_features([u.float().numpy() for u in batch.U], [v.float().numpy() for v in batch.V])
    np.testing.assert_allclose(as_numpy, invariant_features(batch.U, batch.V), rtol=1e-4, atol=1e-5)


def fitted_on_split(labels: np.ndarray, kind: str):
    ids, batch = synthetic_zoo()
    features = invariant_features(batch.U, batch.V)
    names = assign_splits(ids)
    model = fit_reference_on_split(features, labels, names, kind)
    test = names == "test"
    return model, features[test], labels[test], batch


def test_reference_learns_a_function_of_the_norm():
    _, batch = synthetic_zoo()
    y = (2.0 * dense_log_norm(batch, 1) + 1.0)[:, None]
    model, x_test, y_test, _ = fitted_on_split(y, "regression")
    assert metrics.r2_score(model.predict(x_test)[:, 0], y_test[:, 0]) > 0.9


def test_reference_does_not_learn_noise():
    y = np.random.default_rng(3).normal(size=(600, 2))
    model, x_test, y_test, _ = fitted_on_split(y, "regression")
    result = metrics.regression_metrics(model.predict(x_test), y_test, ["a", "b"])
    assert result["r2"] <= 0.1
    assert len(model.alphas) == 2  # one penalty per target


def test_reference_classifies_by_scale():
    _, batch = synthetic_zoo()
    log_norm = dense_log_norm(batch, 0)
    multilabel = np.stack([log_norm > np.median(log_norm), np.zeros(600)], axis=1).astype(np.float64)
    model, x_test, y_test, _ = fitted_on_split(multilabel, "multilabel")
    probabilities = model.predict(x_test)
    assert probabilities.shape == y_test.shape and ((probabilities >= 0) & (probabilities <= 1)).all()
    assert metrics.multilabel_metrics(probabilities, y_test, ["big", "never"])["auroc"] > 0.9
    assert (probabilities[:, 1] == 0).all()  # a label with one class in training is predicted as that class

    tertile = np.digitize(log_norm, np.quantile(log_norm, [1 / 3, 2 / 3]))
    classes = np.array([["small", "mid", "big"][i] for i in tertile], dtype=object)[:, None]
    model, x_test, y_test, _ = fitted_on_split(classes, "multiclass")
    assert model.classes == ["big", "mid", "small"]
    np.testing.assert_allclose(model.predict(x_test).sum(axis=1), 1.0)
    assert metrics.multiclass_metrics(model.predict_classes(x_test)[:, 0], y_test[:, 0])["accuracy"] > 0.8


def test_penalty_and_fit_never_see_test_rows():
    """Test rows filled with NaN (features and labels) change nothing: they are never read."""
    ids, batch = synthetic_zoo()
    features = invariant_features(batch.U, batch.V)
    y = (dense_log_norm(batch, 0) + np.random.default_rng(4).normal(scale=0.3, size=600))[:, None]
    names = assign_splits(ids)
    clean = fit_reference_on_split(features, y, names, "regression")
    test = names == "test"
    hidden_x, hidden_y = features.copy(), y.copy()
    hidden_x[test], hidden_y[test] = np.nan, np.nan
    hidden = fit_reference_on_split(hidden_x, hidden_y, names, "regression")
    assert hidden.alphas == clean.alphas
    np.testing.assert_array_equal(hidden.predict(features[test]), clean.predict(features[test]))
    # standardised with the training rows' statistics alone
    np.testing.assert_allclose(clean.scaler.mean_, features[names == "train"].mean(axis=0))


def test_penalty_is_chosen_by_the_validation_rows():
    """Same training rows, other validation labels: the chosen penalty follows the validation rows."""
    ids, batch = synthetic_zoo()
    features = invariant_features(batch.U, batch.V)
    y = (dense_log_norm(batch, 0) + np.random.default_rng(5).normal(scale=1.0, size=600))[:, None]
    names = assign_splits(ids)
    train, val = names == "train", names == "val"
    signal = fit_reference(features[train], y[train], features[val], y[val], "regression")
    noise = fit_reference(features[train], y[train], features[val],
                          np.random.default_rng(6).normal(size=(int(val.sum()), 1)), "regression")
    assert noise.alphas[0] > signal.alphas[0]


def test_unknown_kind_is_refused():
    with pytest.raises(Exception, match="unknown task"):
        fit_reference(np.zeros((4, 2)), np.zeros((4, 1)), np.zeros((2, 2)), np.zeros((2, 1)), "ranking")
