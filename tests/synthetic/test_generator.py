"""The synthetic zoo: deterministic per seed, and its labels really are GL(r)-invariant."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lolzoo.lol.testing import random_gl
from lolzoo.synthetic.generator import (
    SyntheticZooSpec,
    invariant_labels,
    synthetic_labels,
    synthetic_lora,
    synthetic_tasks,
)
from lolzoo.zoo import load_zoo, read_zoo_info
from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo

TASKS = synthetic_tasks()
REGRESSION, MULTILABEL, MULTICLASS = TASKS["regression"], TASKS["multilabel"], TASKS["multiclass"]


def test_labels_are_invariant_under_a_random_gl_reparametrisation():
    generator = torch.Generator().manual_seed(7)
    spec = SyntheticZooSpec(count=30, seed=3, ranks=(1, 2, 4, 8))
    for index in range(spec.count):
        lora = synthetic_lora(spec, index)
        g = random_gl(lora.rank, cond=math.e ** 2, generator=generator)
        moved = _float64(lora).transformed(g)
        before, after = invariant_labels(_float64(lora)), invariant_labels(moved)
        for name in REGRESSION:
            assert after[name] == pytest.approx(before[name], rel=1e-9, abs=1e-9), name
        for name in MULTILABEL + MULTICLASS:
            assert after[name] == before[name], name


def test_a_reparametrised_zoo_stores_different_weights_with_the_same_labels():
    plain = SyntheticZooSpec(count=12, seed=5, ranks=(4,))
    moved = SyntheticZooSpec(count=12, seed=5, ranks=(4,), reparametrise=True)
    lora_a, lora_b = synthetic_lora(plain, 0), synthetic_lora(moved, 0)
    assert not torch.allclose(lora_a.modules[0].U, lora_b.modules[0].U, atol=1e-2)
    labels_a, labels_b = synthetic_labels(plain), synthetic_labels(moved)
    pd.testing.assert_frame_equal(labels_a[MULTILABEL + MULTICLASS], labels_b[MULTILABEL + MULTICLASS])
    np.testing.assert_allclose(labels_a[REGRESSION], labels_b[REGRESSION], rtol=1e-5)


def test_same_seed_same_zoo_other_seed_other_zoo():
    spec = SyntheticZooSpec(count=8, seed=11, ranks=(2, 4), reparametrise=True)
    pd.testing.assert_frame_equal(synthetic_labels(spec), synthetic_labels(spec))
    assert torch.equal(synthetic_lora(spec, 5).modules[1].V, synthetic_lora(spec, 5).modules[1].V)
    other = synthetic_labels(SyntheticZooSpec(count=8, seed=12, ranks=(2, 4), reparametrise=True))
    assert not np.allclose(synthetic_labels(spec)["frob_norm_total"], other["frob_norm_total"])


def test_a_lora_does_not_change_when_the_zoo_grows():
    small, big = SyntheticZooSpec(count=3, seed=2), SyntheticZooSpec(count=50, seed=2)
    assert torch.equal(synthetic_lora(small, 2).modules[2].U, synthetic_lora(big, 2).modules[2].U)


def test_labels_are_varied_and_the_classes_all_occur():
    labels = synthetic_labels(SyntheticZooSpec(count=300, seed=0, ranks=(2, 4, 8)))
    for name in MULTILABEL:
        assert 0.3 < labels[name].mean() < 0.7, name
    assert set(labels["dominant_module"]) == {0, 1, 2}
    assert labels["frob_norm_total"].std() > 0.2 * labels["frob_norm_total"].mean()


def test_written_zoo_labels_match_its_loaded_weights(tmp_path):
    spec = SyntheticZooSpec(count=20, seed=4, ranks=(2, 3), reparametrise=True, alpha=6.0)
    path = write_synthetic_zoo(tmp_path / "syn.parquet", spec).path
    zoo = load_zoo(path, dtype=torch.float64)
    info = read_zoo_info(path)
    assert info.extra["tasks"] == TASKS and info.extra["num_classes"] == {"dominant_module": 3}
    assert [(m.n, m.m) for m in zoo.modules] == [(16, 12), (8, 20), (24, 24)]
    assert sorted(set(zoo.table["rank"])) == [2, 3] and zoo.r_max == 3
    for row in range(len(zoo)):  # recompute from the folded, padded tensors
        frob = [float(torch.linalg.matrix_norm(zoo.delta(row, k))) for k in range(3)]
        for k in range(3):
            assert zoo.table.loc[row, f"frob_norm_{k}"] == pytest.approx(frob[k], rel=1e-9)
        assert zoo.table.loc[row, "dominant_module"] == int(np.argmax(
            [f / np.sqrt(m.n * m.m) for f, m in zip(frob, zoo.modules)]))


def _float64(lora):
    from dataclasses import replace

    from lolzoo.lora.types import Lora

    return Lora([replace(m, U=m.U.double(), V=m.V.double()) for m in lora.modules], lora.source_format,
                lora.base_model)
