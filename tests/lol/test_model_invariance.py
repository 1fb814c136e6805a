"""The invariance claims of section 3 as numerical tests: random well-conditioned g ∈ GL(r)
and random Q ∈ O(r), drawn independently per module and per LoRA."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.testing import assert_invariant, gl_action, orthogonal_action

from lol_model_helpers import INVARIANT_KINDS, fitted_model, random_lora_batch

GLNET_VARIANTS = [dict(head=head, gate=gate, layers=2) for head in ("flat", "module-mean", "entry-mean")
                  for gate in ("sigmoid", "step")] + [dict(layers=3, equivariant_hidden=5), dict(layers=1)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", INVARIANT_KINDS)
def test_invariant_models_are_gl_invariant(kind, dtype):
    model, batch = fitted_model(kind, dtype), random_lora_batch(16, dtype=dtype)
    assert_invariant(model, batch, gl_action(batch))
    assert_invariant(model, batch, orthogonal_action(batch))


@pytest.mark.parametrize("hparams", GLNET_VARIANTS, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_every_glnet_variant_is_gl_invariant(hparams):
    model, batch = fitted_model("glnet", **hparams), random_lora_batch(16)
    assert_invariant(model, batch, gl_action(batch))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_o_align_is_orthogonally_invariant(dtype):
    model, batch = fitted_model("o-align", dtype), random_lora_batch(16, dtype=dtype)
    assert_invariant(model, batch, orthogonal_action(batch))


def test_o_align_is_measurably_not_gl_invariant():
    model, batch = fitted_model("o-align"), random_lora_batch(16)
    transform = gl_action(batch)
    with torch.no_grad():
        gap = (model(transform(batch)) - model(batch)).abs().max()
    assert gap > 1e-2  # not a rounding error: the outputs move by O(1)
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(model, batch, transform)


def test_flat_mlp_is_not_even_orthogonally_invariant():
    model, batch = fitted_model("mlp"), random_lora_batch(16)
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(model, batch, orthogonal_action(batch))


@pytest.mark.parametrize("kind", ["mlp", "o-align", *INVARIANT_KINDS])
def test_identity_transform_passes_for_every_model(kind):
    """The helper itself: no false alarm (dropout is switched off during the check)."""
    model, batch = fitted_model(kind, dropout=0.5).train(), random_lora_batch(8)
    assert assert_invariant(model, batch, lambda b: b) == 0.0
    assert model.training  # mode restored
