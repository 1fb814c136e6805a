"""Numerical checks of invariance and equivariance, in the style of e3nn's assert_equivariant.

    act = gl_action(batch)                  # one random g per module and per LoRA, drawn once
    assert_invariant(model, batch, act)
    assert_equivariant(GLGate(), batch, act)

`random_gl` is the one GL sampler of the tests and benchmarks (the synthetic zoo generator
keeps its own, seeded by numpy, so a zoo stays a pure function of its seed).

Both return the largest error seen, so a test or a benchmark can report it, and raise an
AssertionError naming it when it exceeds atol + rtol·|reference|. Tolerances default by
dtype: float64 atol 1e-9, rtol 1e-7; float32 atol 1e-4, rtol 1e-3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn

from lolzoo.lol.base import LoraBatch

DEFAULT_TOLERANCES = {torch.float64: (1e-9, 1e-7), torch.float32: (1e-4, 1e-3)}


def random_orthogonal(r: int, batch: int | None = None, *, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Haar-random Q ∈ O(r), of shape (r, r) or (batch, r, r); both signs of det occur."""
    shape = (r, r) if batch is None else (batch, r, r)
    q, rr = torch.linalg.qr(torch.randn(shape, generator=generator, dtype=dtype))
    signs = torch.sign(torch.diagonal(rr, dim1=-2, dim2=-1))  # fixing QR's sign convention makes Q Haar
    return q * torch.where(signs == 0, 1.0, signs).unsqueeze(-2)


def random_gl(r: int, batch: int | None = None, *, cond: float = 10.0, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """g = Q1 diag(s) Q2 with log s uniform in ±log(cond)/2: condition number at most `cond`,
    so inverting g loses a known, small amount of precision."""
    if cond < 1:
        raise ValueError(f"a condition number is at least 1, got {cond}")
    q1 = random_orthogonal(r, batch, generator=generator, dtype=dtype)
    q2 = random_orthogonal(r, batch, generator=generator, dtype=dtype)
    log_s = (torch.rand(q1.shape[:-1], generator=generator, dtype=dtype) - 0.5) * math.log(cond)
    return (q1 * log_s.exp().unsqueeze(-2)) @ q2


def random_gl_per_module(batch: LoraBatch, *, cond: float = 10.0, generator: torch.Generator | None = None
                         ) -> list[torch.Tensor]:
    """An independent g for every module and every LoRA: a list of (B, r, r)."""
    dtype = batch.U[0].dtype
    return [random_gl(batch.rank, batch.size, cond=cond, generator=generator, dtype=dtype) for _ in batch.U]


def random_orthogonal_per_module(batch: LoraBatch, *, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    dtype = batch.U[0].dtype
    return [random_orthogonal(batch.rank, batch.size, generator=generator, dtype=dtype) for _ in batch.U]


def gl_action(batch: LoraBatch, *, cond: float = 10.0, generator: torch.Generator | None = None
              ) -> Callable[[LoraBatch], LoraBatch]:
    """The action of a random g ∈ GL(r) per module and per LoRA on batches shaped like `batch`;
    the g are drawn once, here, so the action is the same every call (as assert_equivariant needs)."""
    gs = random_gl_per_module(batch, cond=cond, generator=generator)
    return lambda b: b.transformed(gs)


def orthogonal_action(batch: LoraBatch, *, generator: torch.Generator | None = None
                      ) -> Callable[[LoraBatch], LoraBatch]:
    """As gl_action, with a random Q ∈ O(r) per module and per LoRA."""
    qs = random_orthogonal_per_module(batch, generator=generator)
    return lambda b: b.transformed(qs)


@contextmanager
def _evaluating(module: nn.Module):
    """Eval mode (no dropout) and no grad, the module's mode restored after."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def _flat(x: torch.Tensor | LoraBatch) -> torch.Tensor:
    if isinstance(x, LoraBatch):
        return torch.cat([t.flatten() for t in x.U + x.V])
    return x.flatten()


def _compare(reference, other, atol: float | None, rtol: float | None, what: str) -> float:
    reference, other = _flat(reference), _flat(other)
    default_atol, default_rtol = DEFAULT_TOLERANCES.get(reference.dtype, DEFAULT_TOLERANCES[torch.float32])
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    error = (other - reference).abs()
    max_error = float(error.max())
    if not bool((error <= atol + rtol * reference.abs()).all()):  # also catches NaN
        raise AssertionError(f"not {what}: max |difference| = {max_error:.3e} (atol={atol:g}, rtol={rtol:g}, "
                             f"max |reference| = {float(reference.abs().max()):.3e})")
    return max_error


def assert_invariant(model: nn.Module, batch: LoraBatch, transform: Callable[[LoraBatch], LoraBatch], *,
                     atol: float | None = None, rtol: float | None = None) -> float:
    """model(transform(batch)) == model(batch); returns the max absolute difference."""
    with _evaluating(model):
        return _compare(model(batch), model(transform(batch)), atol, rtol, "invariant")


def assert_equivariant(layer: nn.Module, batch: LoraBatch, transform: Callable[[LoraBatch], LoraBatch], *,
                       atol: float | None = None, rtol: float | None = None) -> float:
    """layer(transform(batch)) == transform(layer(batch)) for a LoraBatch → LoraBatch layer;
    `transform` must be deterministic (draw g once, outside)."""
    with _evaluating(layer):
        return _compare(transform(layer(batch)), layer(transform(batch)), atol, rtol, "equivariant")
