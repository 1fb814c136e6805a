"""`lolzoo fit --folds K --fold k`: one fit per cross-validation fold, on a small synthetic zoo, in process.

The fold's test LoRAs are exactly assign_folds' fold k and never reach training or model selection;
--folds 1 is today's fixed split to the byte; bad values are one-line usage errors.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from safetensors import safe_open

from lolzoo.cli import main
from lolzoo.lol.split import SplitError, assign_folds, assign_splits, cv_splits, fold_split
from tests.small_zoo import fit_small

COUNT = 100
BRIEF = ("--epochs", 3, "--hparam", "hidden=[8]")


def roles(folder) -> pd.Series:
    """lora_id -> split of a fit's predictions.parquet (one target: one row per LoRA)."""
    frame = pd.read_parquet(folder / "predictions.parquet")
    assert frame["lora_id"].is_unique
    return frame.set_index("lora_id")["split"]


def metrics_of(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def fold_two(zoo_path, tmp_path_factory):
    return fit_small(zoo_path, tmp_path_factory.mktemp("cv") / "fold2", "svd", *BRIEF, "--folds", 5, "--fold", 2)


def test_a_fold_fit_tests_exactly_that_fold_and_trains_on_the_others(fold_two):
    split = roles(fold_two)
    ids = list(split.index)
    assert len(ids) == COUNT
    test = set(split.index[split == "test"])
    assert test == {i for i, f in zip(ids, assign_folds(ids, 5)) if f == 2} and test
    # no test fold reaches model selection: none of its LoRAs trains or validates
    assert test.isdisjoint(split.index[split.isin(["train", "val"])])
    assert set(split) == {"train", "val", "test"}
    assert (split.to_numpy() == cv_splits(ids, 5, val_fraction=0.1)[2]).all()  # the default split's val share


def test_a_fold_fit_records_the_fold_and_its_split_sizes(fold_two):
    metrics, split = metrics_of(fold_two), roles(fold_two)
    assert (metrics["settings"]["folds"], metrics["settings"]["fold"]) == (5, 2)
    assert {s: metrics["sizes"][s] for s in ("train", "val", "test")} == split.value_counts().to_dict()
    training = json.loads((fold_two / "model.json").read_text())["training"]["settings"]
    assert (training["folds"], training["fold"]) == (5, 2)


def test_the_folds_together_test_every_lora_once(zoo_path, fold_two, tmp_path):
    """Fits of other folds: disjoint test sets; with the one of fold 2, every LoRA tested exactly once."""
    tested = {2: set(roles(fold_two).pipe(lambda s: s.index[s == "test"]))}
    for k in (0, 1, 3, 4):
        split = roles(fit_small(zoo_path, tmp_path / f"fold{k}", "svd", "--epochs", 1, "--folds", 5, "--fold", k))
        tested[k] = set(split.index[split == "test"])
    assert sum(len(t) for t in tested.values()) == COUNT
    assert set().union(*tested.values()) == set(roles(fold_two).index)


def test_test_fold_labels_do_not_change_the_model(zoo_path, fold_two, tmp_path):
    """Scramble the labels of fold 2's LoRAs: the fit on fold 2 trains, selects and predicts the same."""
    table = pq.read_table(zoo_path)
    ids = table.column("lora_id").to_pylist()
    in_fold = assign_folds(ids, 5) == 2
    labels = table.column("frob_norm_total").to_numpy()
    scrambled = np.where(in_fold, labels * 1000.0 + 7.0, labels)
    index = table.schema.get_field_index("frob_norm_total")
    changed = table.set_column(index, table.schema.field(index), pa.array(scrambled))
    pq.write_table(changed, tmp_path / "scrambled.parquet")  # the schema's metadata (the zoo's info) goes along
    other = fit_small(tmp_path / "scrambled.parquet", tmp_path / "fit", "svd", *BRIEF, "--folds", 5, "--fold", 2)
    before, after = metrics_of(fold_two), metrics_of(other)
    assert after["history"] == before["history"] and after["best_epoch"] == before["best_epoch"]
    assert after["metrics"]["train"] == before["metrics"]["train"]
    assert after["metrics"]["val"] == before["metrics"]["val"]
    assert after["metrics"]["test"] != before["metrics"]["test"]  # the scrambled labels are scored, only that
    a, b = pd.read_parquet(fold_two / "predictions.parquet"), pd.read_parquet(other / "predictions.parquet")
    assert (a["prediction"].to_numpy() == b["prediction"].to_numpy()).all()


def test_split_with_folds_sets_the_val_share_of_the_other_folds(zoo_path, tmp_path):
    split = roles(fit_small(zoo_path, tmp_path / "fit", "svd", "--epochs", 1, "--folds", 5, "--fold", 1,
                            "--split", "0.5,0.4,0.1"))
    ids = list(split.index)
    assert (split.to_numpy() == cv_splits(ids, 5, val_fraction=0.4)[1]).all()
    assert set(split.index[split == "test"]) == {i for i, f in zip(ids, assign_folds(ids, 5)) if f == 1}


def saved_model(fit_dir):
    """model.safetensors as (metadata, {name: (dtype, shape, bytes)})."""
    with safe_open(fit_dir / "model.safetensors", "np") as handle:
        return handle.metadata(), {name: (str(handle.get_tensor(name).dtype), handle.get_tensor(name).shape,
                                          handle.get_tensor(name).tobytes()) for name in handle.keys()}


@pytest.mark.parametrize("split", [None, "0.6,0.2,0.2"])
def test_folds_1_is_the_fixed_split_to_the_byte(zoo_path, tmp_path, split):
    extra = ("--split", split) if split else ()
    plain = fit_small(zoo_path, tmp_path / "plain", "svd", *BRIEF, "--seed", 3, *extra)
    one = fit_small(zoo_path, tmp_path / "one", "svd", *BRIEF, "--seed", 3, *extra, "--folds", 1, "--fold", 0)
    assert (plain / "predictions.parquet").read_bytes() == (one / "predictions.parquet").read_bytes()
    a, b = metrics_of(plain), metrics_of(one)
    assert a.pop("timings").keys() == b.pop("timings").keys()  # seconds differ run to run, nothing else
    assert a == b and (a["settings"]["folds"], a["settings"]["fold"]) == (1, 0)
    # the same tensors and metadata (not the same bytes: safetensors writes its metadata dict in hash order)
    assert saved_model(plain) == saved_model(one)
    assert (plain / "model.json").read_text() == (one / "model.json").read_text()
    ids = list(roles(plain).index)
    assert (roles(plain).to_numpy() == assign_splits(ids, tuple(map(float, (split or "0.8,0.1,0.1").split(","))))).all()


@pytest.mark.parametrize("args, message", [
    (["--folds", "0"], "--folds 0: the number of folds is at least 1"),
    (["--folds", "-3", "--fold", "0"], "--folds -3"),
    (["--folds", "5", "--fold", "5"], "--fold 5: not a fold of --folds 5 (0 to 4)"),
    (["--folds", "5", "--fold", "-1"], "--fold -1: not a fold of --folds 5"),
    (["--fold", "1"], "--fold 1: not a fold of --folds 1 (0 to 0)"),
    (["--hparam", "folds=3"], "use --folds"),
    (["--folds", "60", "--fold", "0"], "would be empty"),  # 100 LoRAs: some of the 60 folds has none
])
def test_bad_fold_values_are_one_line_errors(zoo_path, tmp_path, capsys, args, message):
    code = main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--target", "frob_norm_total",
                 "--model", "svd", "--out", str(tmp_path / "x"), "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_fold_split_is_assign_splits_or_one_fold_of_cv_splits():
    ids = [f"arc-{i:05d}" for i in range(500)]
    assert (fold_split(ids) == assign_splits(ids)).all()
    assert (fold_split(ids, (0.7, 0.2, 0.1), folds=1, fold=0) == assign_splits(ids, (0.7, 0.2, 0.1))).all()
    for k, names in enumerate(cv_splits(ids, 4, val_fraction=0.2)):
        assert (fold_split(ids, (0.7, 0.2, 0.1), folds=4, fold=k) == names).all()
    few = ids[:3]  # some fold is empty: raised by default, still named without the check
    with pytest.raises(SplitError, match="would be empty"):
        fold_split(few, folds=5, fold=0)
    assert (fold_split(few, folds=5, fold=0, require_nonempty=False) == fold_split(ids, folds=5, fold=0)[:3]).all()
    for folds, fold, message in [(5, 5, "fold 5 is not one of the 5 folds"), (5, -1, "fold -1"),
                                 (1, 1, "fold 1 is not one of the 1 folds"), (0, 0, "positive integer, got 0")]:
        with pytest.raises(SplitError, match=message):
            fold_split(ids, folds=folds, fold=fold)
