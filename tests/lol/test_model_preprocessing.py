"""Fitted preprocessing: standardisation, O-Align's template, GL-net's module scales, the features."""

from __future__ import annotations

import copy

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.standardize import FeatureStandardizer

from lol_model_helpers import SHAPES, fitted_model, random_lora_batch


def test_standardizer_merges_chunks_exactly():
    features = torch.randn(50, 7, dtype=torch.float64) * torch.arange(1, 8) + 3
    whole, chunked = FeatureStandardizer(7).double(), FeatureStandardizer(7).double()
    whole.fit([features])
    chunked.fit(torch.split(features, [1, 20, 13, 16]))
    torch.testing.assert_close(chunked.mean, features.mean(0))
    torch.testing.assert_close(chunked.scale, features.std(0, unbiased=False))
    torch.testing.assert_close(chunked.scale, whole.scale)


def test_standardizer_keeps_constant_features_finite():
    features = torch.randn(20, 3, dtype=torch.float64)
    features[:, 1] = 0.0  # e.g. a singular value beyond every training LoRA's rank
    standardizer = FeatureStandardizer(3).double()
    standardizer.fit([features])
    mean_std = features.std(0, unbiased=False).mean()
    torch.testing.assert_close(standardizer.scale[1], mean_std)  # divided by the typical std, not by ~0
    out = standardizer(torch.ones(1, 3, dtype=torch.float64))
    assert torch.isfinite(out).all() and out[0, 1].abs() < 10


def test_feature_models_standardise_the_training_split():
    train = random_lora_batch(40)
    for kind in ("mlp", "o-align", "dense"):
        model = fitted_model(kind)
        model.fit_preprocessing(train)
        features = model.preprocess(train)
        torch.testing.assert_close(features.mean(0), torch.zeros(features.shape[1], dtype=features.dtype), atol=1e-10, rtol=0)
        torch.testing.assert_close(features.std(0, unbiased=False), torch.ones_like(features[0]))


def test_dense_features_are_the_multiplied_out_matrices():
    model, batch = fitted_model("dense"), random_lora_batch(3)
    raw = model.features(batch)
    torch.testing.assert_close(raw[:, :30].reshape(3, 6, 5), batch.U[0] @ batch.V[0].mT)


def test_o_align_template_is_the_median_norm_lora_whatever_the_order():
    train = random_lora_batch(9)
    norms = sum(torch.linalg.matrix_norm(u @ v.mT) ** 2 for u, v in zip(train.U, train.V))
    median = int(torch.argsort(norms)[4])
    model = fitted_model("o-align")
    model.fit_preprocessing(train)
    expected = torch.cat([torch.cat([u[median], v[median]]) for u, v in zip(train.U, train.V)])
    assert torch.equal(model.template, expected)
    shuffled = fitted_model("o-align")
    shuffled.fit_preprocessing(train.take(torch.randperm(9)))
    assert torch.equal(shuffled.template, model.template)


def test_o_align_leaves_the_template_where_it_is_and_keeps_the_lora():
    train = random_lora_batch(9)
    model = fitted_model("o-align")
    model.fit_preprocessing(train)
    templates = model.module_templates()
    as_batch = LoraBatch([t[None, :n] for t, (n, _) in zip(templates, SHAPES)],
                         [t[None, n:] for t, (n, _) in zip(templates, SHAPES)])
    aligned = model.align(as_batch)
    for t, u, v in zip(templates, aligned.U, aligned.V):
        torch.testing.assert_close(torch.cat([u[0], v[0]]), t)  # Q = I: XᵀX is positive definite
    other = random_lora_batch(5)
    realigned = model.align(other)
    for u, v, ua, va in zip(other.U, other.V, realigned.U, realigned.V):
        torch.testing.assert_close(ua @ va.mT, u @ v.mT)  # a rotation in the gauge: ΔW unchanged


def test_glnet_scales_each_module_to_unit_rms():
    train = random_lora_batch(30)
    model = fitted_model("glnet")
    model.fit_preprocessing(train)
    for scale, u, v in zip(model.module_scale, train.U, train.V):
        rms = (scale * (u @ v.mT)).pow(2).mean().sqrt()
        torch.testing.assert_close(rms, rms.new_tensor(1.0))
    assert model.module_scale.unique().numel() == len(SHAPES)  # the helper's modules differ in scale
    # The scale is applied after the first linear layer; that is the same as scaling the input.
    root = model.module_scale.sqrt()
    scaled = LoraBatch([u * s for u, s in zip(train.U, root)], [v * s for v, s in zip(train.V, root)])
    unscaled = copy.deepcopy(model)
    unscaled.module_scale.fill_(1.0)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(train), unscaled.eval()(scaled))
