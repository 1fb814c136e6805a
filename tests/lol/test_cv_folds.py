"""Cross-validation folds from ids alone: stable as the zoo grows, disjoint, and no test fold in model selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lolzoo.lol.split import SPLITS, SplitError, assign_folds, assign_splits, cv_splits

IDS = [f"arc-{i:05d}" for i in range(2000)]


def test_fold_is_a_function_of_the_id_alone():
    small = assign_folds(IDS[:100], 5)
    assert (assign_folds([f"arc-{i:05d}" for i in range(1000)], 5)[:100] == small).all()  # the zoo grows
    shuffled = np.random.default_rng(0).permutation(100)
    assert (assign_folds([IDS[i] for i in shuffled], 5) == small[shuffled]).all()


def test_roles_are_stable_when_the_zoo_grows():
    small, grown = cv_splits(IDS[:200], 5), cv_splits(IDS, 5)
    for k in range(5):
        assert (grown[k][:200] == small[k]).all()


# Computed once from sha256 (split.py), as PINNED_SPLITS in test_training_split_metrics: a change of hash
# would silently move an old run's test LoRAs into a new run's training folds.
PINNED_FOLDS = {"arc-00000": 1, "arc-00001": 3, "arc-00002": 4, "arc-00005": 2, "arc-00022": 0, "sd/lora-\u00fc": 4}


def test_fold_of_an_id_is_pinned():
    assert dict(zip(PINNED_FOLDS, assign_folds(list(PINNED_FOLDS), 5).tolist())) == PINNED_FOLDS


def test_every_id_is_in_exactly_one_test_fold():
    splits = cv_splits(IDS, 5)
    test_count = np.sum([names == "test" for names in splits], axis=0)
    assert (test_count == 1).all()
    folds = assign_folds(IDS, 5)
    for k, names in enumerate(splits):
        assert ((names == "test") == (folds == k)).all()


def test_each_fold_partitions_the_ids():
    for names in cv_splits(IDS, 5):
        assert len(names) == len(IDS)
        assert set(names.tolist()) == set(SPLITS)  # every id has exactly one role; all roles used


def test_no_test_fold_ever_reaches_model_selection():
    """Fold k's test ids are never in fold k's train (fitting) or val (early stopping, penalty choice)."""
    for k, names in enumerate(cv_splits(IDS, 5)):
        test = {i for i, n in zip(IDS, names) if n == "test"}
        selection = {i for i, n in zip(IDS, names) if n in ("train", "val")}
        assert test and not test & selection, f"fold {k}"
        assert test.isdisjoint(i for i, f in zip(IDS, assign_folds(IDS, 5)) if f != k)


def test_one_fold_is_the_fixed_split():
    (names,) = cv_splits(IDS, 1)
    assert (names == assign_splits(IDS)).all()
    assert (cv_splits(IDS, 1, fractions=(0.7, 0.2, 0.1))[0] == assign_splits(IDS, (0.7, 0.2, 0.1))).all()


def test_fold_sizes_and_val_share():
    n, k = len(IDS), 5
    sizes = np.bincount(assign_folds(IDS, k), minlength=k)
    sd = math.sqrt(n * (1 / k) * (1 - 1 / k))  # binomial
    assert (np.abs(sizes - n / k) < 4 * sd).all(), sizes
    for names in cv_splits(IDS, k, val_fraction=0.1):
        rest = int((names != "test").sum())
        assert abs(int((names == "val").sum()) - 0.1 * rest) < 4 * math.sqrt(rest * 0.1 * 0.9)


def test_empty_fold_is_named():
    with pytest.raises(SplitError, match="fold \\d+ of 5: split 'test' would be empty"):
        cv_splits(IDS[:3], 5)
    with pytest.raises(SplitError, match="split 'val' would be empty"):
        cv_splits(IDS[:20], 2, val_fraction=0.001)
    with pytest.raises(SplitError, match="number of folds"):
        assign_folds(IDS, 0)
    with pytest.raises(SplitError, match="val_fraction"):
        cv_splits(IDS, 5, val_fraction=1.0)
