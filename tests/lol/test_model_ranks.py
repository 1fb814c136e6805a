"""Ranks: svd, dense and glnet take any rank and ignore zero padding; mlp and o-align refuse."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.svd_mlp import lora_singular_values

from lol_model_helpers import INVARIANT_KINDS, RANK, SHAPES, fitted_model, random_lora_batch, zero_pad_rank


@pytest.mark.parametrize("kind", INVARIANT_KINDS)
def test_zero_padding_the_rank_changes_nothing(kind):
    model, batch = fitted_model(kind), random_lora_batch(8)
    with torch.no_grad():
        torch.testing.assert_close(model(zero_pad_rank(batch, 4)), model(batch), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rank", [1, 2, RANK + 3])
@pytest.mark.parametrize("kind", INVARIANT_KINDS)
def test_invariant_models_take_other_ranks(kind, rank):
    model = fitted_model(kind)
    with torch.no_grad():
        out = model(random_lora_batch(5, rank=rank))
    assert out.shape == (5, 2) and torch.isfinite(out).all()


def test_lower_rank_lora_gives_the_output_of_its_padded_self():
    """A rank-1 LoRA fed as rank 1 and as rank RANK (zero-padded) is one LoRA: one output."""
    batch = random_lora_batch(6, rank=1)
    for kind in INVARIANT_KINDS:
        model = fitted_model(kind)
        with torch.no_grad():
            torch.testing.assert_close(model(batch), model(zero_pad_rank(batch, RANK - 1)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["mlp", "o-align"])
@pytest.mark.parametrize("rank", [RANK - 1, RANK + 1])
def test_fixed_rank_models_refuse_other_ranks(kind, rank):
    model = fitted_model(kind)
    with pytest.raises(ValueError, match=f"built for rank {RANK} and cannot take rank {rank}"):
        model(random_lora_batch(4, rank=rank))


def test_svd_pads_and_truncates_to_its_rank():
    """Built for rank RANK: keeps the RANK largest singular values of ΔW, zeros beyond the LoRA's rank."""
    high = random_lora_batch(4, rank=RANK + 2)
    u, v = high.U[0], high.V[0]
    exact = torch.linalg.svdvals(u @ v.mT)
    torch.testing.assert_close(lora_singular_values(u, v, RANK), exact[:, :RANK])
    low = lora_singular_values(u[..., :1], v[..., :1], RANK)
    assert (low[:, 1:] == 0).all() and (low[:, 0] > 0).all()


@pytest.mark.parametrize("kind", ["mlp", "o-align", *INVARIANT_KINDS])
def test_every_model_refuses_other_module_shapes(kind):
    model = fitted_model(kind)
    wrong = random_lora_batch(4, shapes=[SHAPES[0], (4, 8), *SHAPES[2:]])
    with pytest.raises(ValueError, match=r"module 1 of shape \(n, m\) = \(4, 7\), the batch has \(4, 8\)"):
        model(wrong)
    with pytest.raises(ValueError, match="built for 4 modules, the batch has 3"):
        model(random_lora_batch(4, shapes=SHAPES[:3]))
