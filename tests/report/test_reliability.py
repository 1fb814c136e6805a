"""Reliability and noise ceilings (issue 18, item 1) on synthetic labels of known noise:
true ~ N(0, 1), each measurement = true + N(0, σ²), so the reliability is 1 / (1 + σ²)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lolzoo.errors import LolzooError
from lolzoo.lol.metrics import kendall_tau, r2_score
from lolzoo.report import reliability
from lolzoo.report.reliability import ReliabilityError

SEEDS = range(10)


def measured(true_reliability: float, n: int, seed: int):
    """The truth and two independent measurements of it with the given reliability."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(1.0 / true_reliability - 1.0)
    true = rng.normal(size=n)
    return true, true + sigma * rng.normal(size=n), true + sigma * rng.normal(size=n)


def halves(true_reliability: float, n: int, seed: int):
    """The truth and two halves of one evaluation, each with noise variance 2σ², so that the
    full-length measurement (their mean) has noise variance σ² and the given reliability."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(1.0 / true_reliability - 1.0)
    true = rng.normal(size=n)
    a, b = (true + np.sqrt(2.0) * sigma * rng.normal(size=n) for _ in range(2))
    return true, a, b


@pytest.mark.parametrize("true_reliability", [0.5, 0.8])
def test_test_retest_interval_covers_the_true_reliability(true_reliability):
    results = [reliability.test_retest(*measured(true_reliability, 300, seed)[1:], seed=seed) for seed in SEEDS]
    covered = sum(r.reliability_low <= true_reliability <= r.reliability_high for r in results)
    assert covered >= 9, [(r.reliability_low, r.reliability_high) for r in results]
    assert all(r.method == reliability.TEST_RETEST and r.n == 300 for r in results)
    # the point estimate of test-retest is the correlation itself
    assert all(r.reliability == r.correlation for r in results)
    assert abs(np.mean([r.reliability for r in results]) - true_reliability) < 0.03


def test_the_interval_narrows_with_more_loras():
    small = reliability.test_retest(*measured(0.6, 100, 0)[1:])
    large = reliability.test_retest(*measured(0.6, 1000, 0)[1:])
    # the width shrinks like 1/sqrt(n): sqrt(10) ≈ 3.2 times here
    assert large.reliability_high - large.reliability_low < 0.5 * (small.reliability_high - small.reliability_low)


@pytest.mark.parametrize("true_reliability", [0.5, 0.8])
def test_split_half_recovers_the_full_length_reliability(true_reliability):
    results = [reliability.split_half(*halves(true_reliability, 300, seed)[1:], seed=seed) for seed in SEEDS]
    covered = sum(r.reliability_low <= true_reliability <= r.reliability_high for r in results)
    assert covered >= 9, [(r.reliability_low, r.reliability_high) for r in results]
    assert all("Spearman-Brown" in r.method for r in results)
    for r in results:
        assert r.reliability == pytest.approx(2 * r.correlation / (1 + r.correlation))
        assert r.correlation < r.reliability  # a half is less reliable than the whole


def test_split_half_ceiling_is_what_a_perfect_predictor_scores_on_the_full_measurement():
    inside = 0
    for seed in SEEDS:
        true, a, b = halves(0.7, 300, seed)
        r = reliability.split_half(a, b, seed=seed)
        inside += r.ceiling_r2_low <= r2_score(true, (a + b) / 2) <= r.ceiling_r2_high
    assert inside >= 9


@pytest.mark.parametrize("true_reliability", [0.5, 0.8])
def test_r2_ceiling_is_what_a_perfect_predictor_scores(true_reliability):
    inside = 0
    for seed in SEEDS:
        true, first, second = measured(true_reliability, 300, seed)
        r = reliability.test_retest(first, second, seed=seed)
        assert r.ceiling_r2 == r.reliability  # within [0, 1], the R² ceiling is the reliability
        inside += r.ceiling_r2_low <= r2_score(true, first) <= r.ceiling_r2_high
    assert inside >= 9


@pytest.mark.parametrize("true_reliability", [0.5, 0.8])
def test_tau_ceiling_matches_kendall_tau_of_truth_and_one_measurement(true_reliability):
    inside = 0
    for seed in SEEDS:
        true, first, second = measured(true_reliability, 300, seed)
        r = reliability.test_retest(first, second, seed=seed)
        assert r.ceiling_tau_low <= r.ceiling_tau <= r.ceiling_tau_high
        inside += r.ceiling_tau_low <= kendall_tau(true, first) <= r.ceiling_tau_high
    assert inside >= 9
    # Greiner: τ = (2/π) arcsin(sqrt(reliability)); a perfectly reliable label has ceiling 1
    assert reliability.ceiling_tau(1.0) == pytest.approx(1.0)
    assert reliability.ceiling_tau(0.5) == pytest.approx(0.5)  # arcsin(1/√2) = π/4


def test_a_negative_estimate_is_kept_raw_and_the_ceilings_are_clipped():
    rng = np.random.default_rng(0)
    first = rng.normal(size=40)
    second = -first + 0.5 * rng.normal(size=40)  # anti-correlated: pure noise would do this rarely
    r = reliability.test_retest(first, second, min_loras=30)
    assert r.reliability < 0 and r.reliability_high < 0
    assert r.ceiling_r2 == r.ceiling_r2_low == r.ceiling_r2_high == 0.0
    assert r.ceiling_tau == r.ceiling_tau_low == r.ceiling_tau_high == 0.0
    assert r.ceilings_clipped
    assert not reliability.test_retest(*measured(0.8, 300, 0)[1:]).ceilings_clipped


def test_same_seed_same_interval_and_json_ready():
    _, first, second = measured(0.6, 100, 3)
    one = reliability.test_retest(first, second, seed=7)
    assert one == reliability.test_retest(first, second, seed=7)
    other = reliability.test_retest(first, second, seed=8)
    assert (one.reliability_low, one.reliability_high) != (other.reliability_low, other.reliability_high)
    assert one.reliability == other.reliability  # only the bootstrap depends on the seed
    data = json.loads(json.dumps(one.to_dict()))
    assert data["method"] == reliability.TEST_RETEST and data["n"] == 100 and data["resamples"] == 2000
    assert data["reliability_low"] == one.reliability_low
    with pytest.raises(AttributeError):
        one.reliability = 1.0  # frozen


def test_wider_confidence_gives_a_wider_interval():
    _, first, second = measured(0.6, 200, 1)
    narrow = reliability.test_retest(first, second, confidence=0.5)
    wide = reliability.test_retest(first, second, confidence=0.99)
    assert wide.reliability_low < narrow.reliability_low < narrow.reliability_high < wide.reliability_high


def test_too_few_loras_are_refused_and_the_minimum_can_be_lowered():
    _, first, second = measured(0.6, 29, 0)
    with pytest.raises(ReliabilityError, match=r"^a reliability needs at least 30 LoRAs measured twice, got 29$"):
        reliability.test_retest(first, second)
    with pytest.raises(ReliabilityError, match=r"at least 30 LoRAs measured twice, got 29$"):
        reliability.split_half(first, second)
    assert reliability.test_retest(first[:10], second[:10], min_loras=10).n == 10


def test_mismatched_lengths_are_refused():
    _, first, second = measured(0.6, 50, 0)
    with pytest.raises(ReliabilityError, match=r"^first and second differ in length: 50 and 49 LoRAs$"):
        reliability.test_retest(first, second[:-1])
    with pytest.raises(ReliabilityError, match=r"^half_a and half_b differ in length: 49 and 50 LoRAs$"):
        reliability.split_half(first[:-1], second)


def test_nan_and_infinite_values_are_refused():
    _, first, second = measured(0.6, 50, 0)
    second[[4, 9]] = np.nan
    with pytest.raises(ReliabilityError, match=r"^second holds 2 NaN or infinite value\(s\), the first at position 4$"):
        reliability.test_retest(first, second)
    first[0] = np.inf
    with pytest.raises(ReliabilityError, match=r"^half_a holds 1 NaN or infinite value\(s\), the first at position 0$"):
        reliability.split_half(first, second)


def test_constant_input_is_refused():
    _, first, _ = measured(0.6, 50, 0)
    with pytest.raises(ReliabilityError, match=r"^second is constant \(0\.25\): its correlation is undefined$"):
        reliability.test_retest(first, np.full(50, 0.25))
    with pytest.raises(ReliabilityError, match=r"^half_a is constant \(1\)"):
        reliability.split_half(np.ones(50), first)


def test_bad_settings_and_shapes_are_refused_and_all_are_lolzoo_errors():
    _, first, second = measured(0.6, 50, 0)
    with pytest.raises(ReliabilityError, match=r"^confidence must lie strictly between 0 and 1, got 95$"):
        reliability.test_retest(first, second, confidence=95)
    with pytest.raises(ReliabilityError, match=r"^resamples must be at least 1, got 0$"):
        reliability.test_retest(first, second, resamples=0)
    with pytest.raises(ReliabilityError, match=r"^first must be one value per LoRA \(1-D\), got shape \(50, 1\)$"):
        reliability.test_retest(first[:, None], second)
    assert issubclass(ReliabilityError, LolzooError)
