"""DoRA adapters (paper, appendix E): the magnitude vectors are GL-invariant features every
model takes beside U and V when built with magnitudes=True."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.registry import MODEL_KINDS, model_from_config
from lolzoo.lol.testing import assert_invariant, gl_action, orthogonal_action

from lol_model_helpers import INVARIANT_KINDS, fitted_model, random_lora_batch

GLNET_HEADS = [dict(head=head) for head in ("flat", "module-mean", "entry-mean")]


@pytest.mark.parametrize("kind", INVARIANT_KINDS)
def test_dora_models_stay_gl_invariant(kind):
    model, batch = fitted_model(kind, dora=True), random_lora_batch(16, dora=True)
    assert_invariant(model, batch, gl_action(batch))


@pytest.mark.parametrize("hparams", GLNET_HEADS, ids=lambda h: h["head"])
def test_every_glnet_head_takes_magnitudes_invariantly(hparams):
    model, batch = fitted_model("glnet", dora=True, **hparams), random_lora_batch(16, dora=True)
    assert_invariant(model, batch, gl_action(batch))
    assert_invariant(model, batch, orthogonal_action(batch))


def test_dora_o_align_stays_orthogonally_invariant():
    model, batch = fitted_model("o-align", dora=True), random_lora_batch(16, dora=True)
    assert_invariant(model, batch, orthogonal_action(batch))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_the_magnitudes_change_the_prediction(kind):
    model, batch = fitted_model(kind, dora=True), random_lora_batch(8, dora=True)
    scaled = LoraBatch(batch.U, batch.V, [m * 1.5 for m in batch.magnitudes])
    with torch.no_grad():
        gap = (model(scaled) - model(batch)).abs().max()
    assert gap > 1e-3


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_dora_model_refuses_plain_loras(kind):
    model = fitted_model(kind, dora=True)
    with pytest.raises(ValueError, match="trained on DoRA adapters"):
        model(random_lora_batch(4))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_plain_model_reads_only_the_low_rank_part(kind):
    model, batch = fitted_model(kind), random_lora_batch(6, dora=True)
    with torch.no_grad():
        torch.testing.assert_close(model(batch), model(LoraBatch(batch.U, batch.V)), rtol=0, atol=0)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_config_and_state_dict_rebuild_a_dora_model(kind):
    model, batch = fitted_model(kind, dora=True), random_lora_batch(5, dora=True)
    config = model.config()
    assert config["magnitudes"] is True
    rebuilt = model_from_config(config).to(torch.float64)
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(batch), model(batch), rtol=0, atol=0)


def test_a_config_without_the_magnitudes_key_is_a_plain_model():
    """model.json files written before DoRA support still load."""
    config = fitted_model("glnet").config()
    del config["magnitudes"]
    assert model_from_config(config).magnitudes is False
