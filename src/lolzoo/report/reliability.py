"""How repeatable a measured label is, and the best score any predictor can reach against it.

Classical test theory: each measurement of a LoRA's label is `true + noise`, the noise
independent of the truth and of the other measurement, with the same variance in both.
Then the reliability var(true) / var(measured) is estimated by

- `test_retest`: the Pearson correlation of two independent measurements (for example the
  CLIP score under a second evaluation seed);
- `split_half`: the correlation of two halves of one evaluation (for example ARC accuracy
  on odd and even questions), Spearman-Brown corrected to the full length: 2r / (1 + r).

Noise ceilings, against ONE measurement of the label (the one a model is scored on):

- R²: a perfect predictor of the true value leaves the noise as its residual, so
  R² = 1 - var(noise) / var(measured) = var(true) / var(measured) = reliability.
  No predictor does better in expectation, since the noise is unpredictable.
- Kendall τ: under bivariate normality of (true, measured), Greiner's relation
  τ = (2/π)·arcsin(ρ), with ρ = corr(true, measured) = sqrt(reliability).
  Ties or strongly non-normal labels make this an approximation.

Confidence intervals are percentile bootstraps over LoRAs (both measurements of a LoRA are
resampled together). Both ceilings are non-decreasing functions of the reliability, and
percentile intervals commute with such functions, so the ceilings' bounds are the
reliability's bounds mapped through them.

On a noisy small sample the reliability can come out negative: it is reported raw, but the
ceilings are clipped to [0, 1] (`ceilings_clipped` says when that happened).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lolzoo.errors import LolzooError

MIN_LORAS = 30  # issue 18: fewer LoRAs give intervals too wide to be worth reporting
TEST_RETEST = "test-retest (Pearson correlation)"
SPLIT_HALF = "split-half (Spearman-Brown corrected)"


class ReliabilityError(LolzooError):
    """Measurements that cannot give a reliability (too few, mismatched, NaN, constant)."""


@dataclass(frozen=True)
class Reliability:
    method: str
    n: int
    confidence: float
    resamples: int
    correlation: float  # the raw Pearson r between the two measurements (or halves)
    reliability: float
    reliability_low: float
    reliability_high: float
    ceiling_r2: float
    ceiling_r2_low: float
    ceiling_r2_high: float
    ceiling_tau: float
    ceiling_tau_low: float
    ceiling_tau_high: float
    ceilings_clipped: bool

    def to_dict(self) -> dict:
        return asdict(self)


def test_retest(first, second, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
                min_loras: int = MIN_LORAS) -> Reliability:
    """Reliability of a label measured twice, independently, on the same LoRAs (same order)."""
    return _estimate(TEST_RETEST, first, second, ("first", "second"), lambda r: r,
                     confidence, resamples, seed, min_loras)


def split_half(half_a, half_b, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
               min_loras: int = MIN_LORAS) -> Reliability:
    """Reliability of the full-length label (the mean or sum of the halves) from its two halves.

    Spearman-Brown assumes parallel halves (equal true part, equal noise variance), as odd
    and even questions of one benchmark roughly are; the ceilings are for the full label."""
    return _estimate(SPLIT_HALF, half_a, half_b, ("half_a", "half_b"), spearman_brown,
                     confidence, resamples, seed, min_loras)


def spearman_brown(r):
    """Reliability of a test twice as long as one whose halves correlate r."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * np.asarray(r) / (1.0 + np.asarray(r))


def ceiling_r2(reliability):
    return np.clip(reliability, 0.0, 1.0)


def ceiling_tau(reliability):
    return 2.0 / math.pi * np.arcsin(np.sqrt(np.clip(reliability, 0.0, 1.0)))


def _estimate(method, a, b, names, to_reliability, confidence, resamples, seed, min_loras) -> Reliability:
    a, b = _check(a, b, names, min_loras)
    if not 0.0 < confidence < 1.0:
        raise ReliabilityError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ReliabilityError(f"resamples must be at least 1, got {resamples}")
    r = float(_pearson(a[None], b[None])[0])
    point = float(to_reliability(r))
    boot = to_reliability(_bootstrap_r(a, b, resamples, np.random.default_rng(seed)))
    tail = 50.0 * (1.0 - confidence)
    # nan-aware: a resample that happens to be constant has no correlation
    low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100.0 - tail]))
    return Reliability(
        method=method, n=len(a), confidence=confidence, resamples=resamples, correlation=r,
        reliability=point, reliability_low=low, reliability_high=high,
        ceiling_r2=float(ceiling_r2(point)), ceiling_r2_low=float(ceiling_r2(low)),
        ceiling_r2_high=float(ceiling_r2(high)),
        ceiling_tau=float(ceiling_tau(point)), ceiling_tau_low=float(ceiling_tau(low)),
        ceiling_tau_high=float(ceiling_tau(high)),
        ceilings_clipped=bool(min(point, low) < 0.0 or max(point, high) > 1.0))


def _check(a, b, names, min_loras):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    for name, x in zip(names, (a, b)):
        if x.ndim != 1:
            raise ReliabilityError(f"{name} must be one value per LoRA (1-D), got shape {x.shape}")
    if len(a) != len(b):
        raise ReliabilityError(f"{names[0]} and {names[1]} differ in length: {len(a)} and {len(b)} LoRAs")
    if len(a) < min_loras:
        raise ReliabilityError(f"a reliability needs at least {min_loras} LoRAs measured twice, got {len(a)}")
    for name, x in zip(names, (a, b)):
        bad = np.flatnonzero(~np.isfinite(x))
        if len(bad):
            raise ReliabilityError(f"{name} holds {len(bad)} NaN or infinite value(s), the first at position {bad[0]}")
        if np.all(x == x[0]):
            raise ReliabilityError(f"{name} is constant ({x[0]:g}): its correlation is undefined")
    return a, b


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of two (k, n) arrays; NaN for a constant row."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def _bootstrap_r(a, b, resamples, rng) -> np.ndarray:
    """Pearson r on `resamples` resamples of the LoRAs, in blocks that bound the memory."""
    n = len(a)
    block = max(1, 2_000_000 // n)
    out = []
    for start in range(0, resamples, block):
        rows = rng.integers(0, n, size=(min(block, resamples - start), n))
        out.append(_pearson(a[rows], b[rows]))
    return np.concatenate(out)
