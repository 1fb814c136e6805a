"""The helpers of lolzoo.lol.testing themselves."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.testing import assert_equivariant, assert_invariant, random_gl, random_orthogonal

from lol_model_helpers import fitted_model, random_lora_batch


def test_random_orthogonal_is_orthogonal_with_both_determinants():
    q = random_orthogonal(4, 200)
    torch.testing.assert_close(q.mT @ q, torch.eye(4, dtype=q.dtype).expand(200, 4, 4))
    dets = torch.linalg.det(q)
    assert (dets > 0).any() and (dets < 0).any()


@pytest.mark.parametrize("cond", [1.0, 10.0, 1e3])
def test_random_gl_is_as_well_conditioned_as_asked(cond):
    g = random_gl(5, 100, cond=cond)
    assert (torch.linalg.cond(g) <= cond * (1 + 1e-9)).all()
    if cond > 1:
        assert (torch.linalg.cond(g) > 1 + 1e-3).all()  # and not orthogonal


def test_random_gl_follows_the_generator():
    a = random_gl(3, generator=torch.Generator().manual_seed(5))
    b = random_gl(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (3, 3)
    with pytest.raises(ValueError, match="at least 1"):
        random_gl(3, cond=0.5)


def double_u(batch: LoraBatch) -> LoraBatch:
    """Doubles every ΔW: not a GL action, so invariant models must notice."""
    return LoraBatch([2 * u for u in batch.U], list(batch.V))


class SquareU(torch.nn.Module):
    """Squares U entrywise: does not commute with doubling U."""

    def forward(self, batch):
        return LoraBatch([u * u for u in batch.U], list(batch.V))


def test_failures_name_the_max_error():
    model, batch = fitted_model("svd"), random_lora_batch(4)
    with pytest.raises(AssertionError, match=r"not invariant: max \|difference\| = \d\.\d{3}e[+-]\d\d"):
        assert_invariant(model, batch, double_u)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(SquareU(), batch, double_u)


def test_tolerances_are_respected():
    model, batch = fitted_model("dense"), random_lora_batch(4)
    nudge = lambda b: LoraBatch([u * (1 + 1e-6) for u in b.U], list(b.V))  # noqa: E731
    error = assert_invariant(model, batch, nudge, atol=1e-3, rtol=0)
    assert 0 < error < 1e-3
    with pytest.raises(AssertionError, match=r"^not invariant: max \|difference\| = .* \(atol=1e-09, rtol=1e-07, "):
        assert_invariant(model, batch, nudge)  # float64 defaults are far tighter
