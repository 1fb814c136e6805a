"""Tuned, cross-validated fits in one process (lolzoo.lol.cv, `lolzoo fit-cv`), on a small synthetic zoo.

The claims: no test fold ever reaches model selection (its labels can be anything and the choice
does not move); the selection seed's run is the chosen candidate's own fit; learning-curve shares
are nested and leave val and test alone; the folder and cv.json hold every fold × seed run, and
the reference is fitted on the same folds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lolzoo.cli import main
from lolzoo.lol.cv import REFERENCE, CrossValidationError, CVPlan, run_cv
from lolzoo.lol.split import UNUSED, SplitError, assign_folds, keep_training_share
from lolzoo.lol.tuning import TuningError, candidates
from lolzoo.zoo.load import load_zoo

COUNT = 120
TARGET = "frob_norm_total"
BRIEF = {"epochs": 3, "hidden": [8]}
GRID = {"lr": [3e-4, 3e-3], "weight_decay": [0.0, 0.1]}


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def zoo(zoo_path):
    return load_zoo(zoo_path, columns=[TARGET])


def test_candidates_start_with_the_preset_and_draw_distinct_settings_reproducibly():
    start = {"lr": 1e-3, "epochs": 3}
    first = candidates(start, GRID, trials=4, seed=0)
    assert first[0] == start
    assert len({json.dumps(c, sort_keys=True) for c in first}) == 4
    assert all(c["epochs"] == 3 and c["lr"] in (1e-3, 3e-4, 3e-3) for c in first)
    assert candidates(start, GRID, trials=4, seed=0) == first
    # the product holds 4 settings, none equal to the start: at most 5 distinct come back
    assert len(candidates(start, GRID, trials=50)) == 5
    assert candidates(start, GRID, trials=1) == [start]


@pytest.mark.parametrize("grid, trials, message", [
    ({"lr": []}, 2, "non-empty list"), ({"lr": 0.1}, 2, "non-empty list"), ({}, 0, "positive integer")])
def test_candidates_refuse_a_grid_that_cannot_be_searched(grid, trials, message):
    with pytest.raises(TuningError, match=message):
        candidates({}, grid, trials)


def test_training_shares_are_nested_and_leave_val_and_test_alone():
    ids = [f"lora-{i:04d}" for i in range(400)]
    names = np.array(["train"] * 300 + ["val"] * 40 + ["test"] * 60, dtype=object)
    quarter, half = keep_training_share(names, ids, 0.25), keep_training_share(names, ids, 0.5)
    assert (quarter == "train").sum() == 75 and (half == "train").sum() == 150
    assert np.all(half[quarter == "train"] == "train")  # the quarter is inside the half
    for shared in (quarter, half):
        assert np.array_equal(shared[300:], names[300:])
        assert set(shared[:300]) == {"train", UNUSED}
    assert np.array_equal(keep_training_share(names, ids, 1.0), names)
    with pytest.raises(SplitError, match=r"\(0, 1\]"):
        keep_training_share(names, ids, 0.0)


def test_no_test_fold_reaches_model_selection(zoo):
    """Poison fold 1's labels: fold 1's validation losses and choice do not move, its test scores do."""
    plan = CVPlan(folds=3, seeds=(0,), trials=3, grid=GRID)
    clean = run_cv("mlp", zoo, "regression", [TARGET], BRIEF, plan, log=quiet)
    poisoned = load_zoo(zoo.path, columns=[TARGET])
    in_fold = assign_folds(poisoned.lora_ids, 3) == 1
    poisoned.table.loc[in_fold, TARGET] = 1e6 * np.random.default_rng(0).standard_normal(in_fold.sum())
    dirty = run_cv("mlp", poisoned, "regression", [TARGET], BRIEF, plan, log=quiet)

    def of_fold(found, k):
        return [(s["trial"], s["setting"], s["val_loss"]) for s in found["selection"] if s["fold"] == k]

    assert of_fold(dirty, 1) == of_fold(clean, 1)
    assert dirty["chosen"]["1"] == clean["chosen"]["1"]
    test_mse = [[r["metrics"]["test"]["mse"] for r in found["runs"] if r["fold"] == 1] for found in (clean, dirty)]
    assert test_mse[1][0] > 1e6 * test_mse[0][0]  # the poisoned labels were scored, and only scored
    # the other folds trained on the poison, so their selection may differ: the check above is the point


def test_runs_cover_every_fold_and_seed_and_reuse_the_selection_fit(zoo):
    plan = CVPlan(folds=3, seeds=(2, 0), trials=2, grid=GRID, train_fractions=(0.5, 1.0))
    found = run_cv("svd", zoo, "regression", [TARGET], BRIEF, plan, log=quiet)
    full = [(r["fold"], r["seed"]) for r in found["runs"] if r["train_fraction"] == 1.0]
    assert sorted(full) == [(k, s) for k in range(3) for s in (0, 2)]
    curve = [r for r in found["runs"] if r["train_fraction"] == 0.5]
    assert [(r["fold"], r["seed"]) for r in curve] == [(0, 0), (1, 0), (2, 0)]
    for k in range(3):
        runs = {(r["seed"], r["train_fraction"]): r for r in found["runs"] if r["fold"] == k}
        assert runs[(0, 1.0)]["setting"] == found["chosen"][str(k)] == runs[(2, 1.0)]["setting"]
        assert runs[(0, 0.5)]["n_train"] < runs[(0, 1.0)]["n_train"]
        assert runs[(0, 0.5)]["n_test"] == runs[(0, 1.0)]["n_test"]
        chosen = [s for s in found["selection"] if s["fold"] == k and s["setting"] == found["chosen"][str(k)]]
        assert chosen[0]["val_loss"] == pytest.approx(runs[(0, 1.0)]["metrics"]["val"]["loss"], rel=1e-5)
    sizes = {r["fold"]: r["n_test"] for r in found["runs"]}
    assert sum(sizes.values()) == COUNT  # every LoRA is tested exactly once


def test_the_reference_learns_the_norm_on_the_same_folds(zoo):
    plan = CVPlan(folds=3, seeds=(0, 1), train_fractions=(0.25, 1.0))
    found = run_cv(REFERENCE, zoo, "regression", [TARGET], BRIEF, plan, log=quiet)
    full = [r for r in found["runs"] if r["train_fraction"] == 1.0]
    assert [r["fold"] for r in full] == [0, 1, 2] and {r["seed"] for r in full} == {0}  # no seed to vary
    assert all(r["metrics"]["test"]["r2"] > 0.9 for r in full)  # the Frobenius norm is one of its features
    assert sum(r["n_test"] for r in full) == COUNT
    assert found["selection"] == []


def test_a_plan_needs_seeds_and_the_full_share():
    with pytest.raises(CrossValidationError, match="seed"):
        CVPlan(seeds=())
    with pytest.raises(CrossValidationError, match=r"\(0, 1\]"):
        CVPlan(train_fractions=(0.5, 1.5))


def test_fit_cv_writes_one_folder_with_every_run(zoo_path, tmp_path, capsys):
    out = tmp_path / "glnet"
    code = main(["fit-cv", "--zoo", str(zoo_path), "--task", "regression", "--target", TARGET, "--model", "glnet",
                 "--folds", "2", "--seeds", "0,1", "--trials", "2", "--grid", json.dumps({"layers": [2], "lr": [3e-3]}),
                 "--train-fractions", "0.5", "--epochs", "2", "--out", str(out)])
    assert code == 0
    document = json.loads((out / "cv.json").read_text())
    assert document["settings"]["folds"] == 2 and document["settings"]["seeds"] == [0, 1]
    assert document["settings"]["train_fractions"] == [0.5, 1.0]
    assert len(document["selection"]) == 4 and len(document["runs"]) == 2 * 2 + 2
    for run in document["runs"]:
        if run["train_fraction"] == 1.0:
            fit = json.loads((out / run["dir"] / "metrics.json").read_text())
            assert run["dir"] == f"fold{run['fold']}/seed{run['seed']}"
            assert fit["settings"]["fold"] == run["fold"] and fit["settings"]["folds"] == 2
            assert fit["settings"]["lr"] == run["setting"].get("lr", 1e-3)  # the chosen setting was trained
            assert fit["metrics"]["test"]["r2"] == pytest.approx(run["metrics"]["test"]["r2"])
        else:
            assert run["dir"] is None
    assert sorted(p.name for p in out.iterdir()) == ["cv.json", "fold0", "fold1"]
    # the folder is written once: a second run refuses it rather than mixing two
    assert main(["fit-cv", "--zoo", str(zoo_path), "--task", "regression", "--target", TARGET,
                 "--model", REFERENCE, "--folds", "2", "--out", str(out)]) != 0
    assert "is not an empty folder" in capsys.readouterr().err and (out / "fold0" / "seed1").is_dir()


def test_fit_cv_reference_writes_no_network(zoo_path, tmp_path):
    out = tmp_path / "reference"
    assert main(["fit-cv", "--zoo", str(zoo_path), "--task", "regression", "--target", TARGET,
                 "--model", REFERENCE, "--folds", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cv.json"]


@pytest.mark.parametrize("flags, message", [
    (["--grid", "[1, 2]"], "--grid is a JSON object"), (["--grid", "{lr"], "--grid is a JSON object"),
    (["--seeds", "a,b"], "--seeds takes numbers"), (["--folds", "0"], "--folds 0"),
    (["--trials", "0"], "trials is a positive integer")])
def test_fit_cv_bad_flags_are_one_line_errors(zoo_path, tmp_path, capsys, flags, message):
    code = main(["fit-cv", "--zoo", str(zoo_path), "--task", "regression", "--target", TARGET, "--model", "mlp",
                 "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
