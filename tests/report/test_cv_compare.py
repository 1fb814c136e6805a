"""`lolzoo compare` on `lolzoo fit-cv` folders (issue 18): known scores give known means and
intervals, a clearly worse model gets no "≈" and a tied one does, the reference, baseline and
noise-ceiling rows, the tuning table, plain fit folders, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.report.comparison_table import CEILING_NAME
from lolzoo.report.cv_scores import REFERENCE_NAME, read_scores
from lolzoo.report.intervals import FOLDS_X_SEEDS, SEEDS_ONLY, metric_interval
from lolzoo.report.tuning import chosen_text
from tests.report.cv_helpers import measured, write_cv, write_fit_folder, write_reliability

FOLDS, SEEDS = 5, (0, 1, 2)
ATTRIBUTES = ("has_a", "has_b")


def glnet_r2(fold, seed, fraction=1.0):
    return 0.6 + 0.05 * fold + 0.01 * seed - 0.2 * (1 - fraction)


def regression(value):
    return {"mse": 1 - value, "r2": value, "kendall_tau": value / 2}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    tied = lambda f, s, _: regression(glnet_r2(f, s) + (0.01 if (f + s) % 2 else -0.01))  # noqa: E731
    setting = {"lr": 0.001, "weight_decay": 0.01, "layers": 2, "head": "module-mean", "hidden": [64]}
    preset = {"lr": 0.0001, "weight_decay": 0.0, "layers": 1, "head": "flat", "hidden": [64]}
    selection = [{"fold": k, "trial": t, "setting": s, "val_loss": loss, "best_epoch": 3, "seconds": 2.0}
                 for k in range(FOLDS) for t, s, loss in ((0, preset, 0.7), (1, setting, 0.5))]
    grid = {"lr": [0.0001, 0.001], "weight_decay": [0.0, 0.01], "layers": [1, 2], "head": ["flat", "module-mean"],
            "hidden": [[64]]}
    return {
        "glnet": write_cv(root / "glnet", "glnet", lambda f, s, x: regression(glnet_r2(f, s, x)),
                          fractions=(0.25, 0.5, 1.0), selection=selection, grid=grid,
                          chosen={str(k): setting for k in range(FOLDS)}),
        "svd": write_cv(root / "svd", "svd", tied),
        "mlp": write_cv(root / "mlp", "mlp", lambda f, s, _: regression(glnet_r2(f, s) - 0.3 + 0.01 * (f % 2))),
        "reference": write_cv(root / "reference", "reference", lambda f, s, x: regression(0.55 + 0.05 * f),
                              fractions=(0.25, 0.5, 1.0)),
        "attributes": write_cv(root / "attributes", "glnet", lambda f, s, _: {"loss": 0.4, "accuracy": 0.8 + 0.01 * f,
                                                                              "auroc": 0.7},
                               task="multilabel", targets=ATTRIBUTES),
        "reliability": write_reliability(root / "reliability.json", "celeba", {
            "clip_score": measured(0.8, 0.7, 0.9, 0.6, 0.5, 0.7),
            **{a: {"status": "exact", "why": "a data label: fixed by construction"} for a in ATTRIBUTES}}),
    }


@pytest.fixture(scope="module")
def table(folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    dirs = [folders[k] for k in ("glnet", "svd", "mlp", "reference", "attributes")]
    assert main(["compare", *map(str, dirs), "--reliability", str(folders["reliability"]),
                 "--out", str(out / "comparison"), "--tuning", str(out / "tuning")]) == 0
    csv = pd.read_csv(out / "comparison.csv", dtype={"mark": str, "status": str}).fillna({"mark": "", "status": ""})
    return {"csv": csv, "md": (out / "comparison.md").read_text(), "html": (out / "comparison.html").read_text(),
            "tuning": pd.read_csv(out / "tuning.csv"), "tuning_md": (out / "tuning.md").read_text()}


def cell(csv, row, metric, task="regression"):
    found = csv[(csv["row"] == row) & (csv["metric"] == metric) & (csv["task"] == task)]
    assert len(found) == 1, (row, metric, found)
    return found.iloc[0]


def test_a_model_cell_is_the_mean_and_corrected_interval_over_folds_and_seeds(table):
    values = [glnet_r2(f, s) for f in range(FOLDS) for s in SEEDS]
    expected = metric_interval(values, 80, 20)
    glnet = cell(table["csv"], "glnet", "r2")
    assert glnet["mean"] == pytest.approx(0.71)
    assert (glnet["low"], glnet["high"]) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert glnet["runs"] == 15 and glnet["scope"] == FOLDS_X_SEEDS and glnet["mark"] == "best"
    assert f"| {0.71:.3f} [{expected.low:.3f}, {expected.high:.3f}] (best) |" in table["md"]


def test_a_tied_model_is_marked_and_a_clearly_worse_one_is_not(table):
    csv = table["csv"]
    for metric in ("mse", "r2", "kendall_tau"):  # mse: lower is better, and glnet is still the best
        assert cell(csv, "glnet", metric)["mark"] == "best"
        assert cell(csv, "svd", metric)["mark"] == "≈"
        assert cell(csv, "mlp", metric)["mark"] == ""
    mlp = cell(csv, "mlp", "r2")
    assert mlp["difference"] == pytest.approx(-0.3 + 0.01 * 2 * 3 / 15) and mlp["difference_high"] < 0
    assert mlp["pairs"] == 15
    svd = cell(csv, "svd", "r2")
    assert svd["difference_low"] < 0 < svd["difference_high"]
    svd_line = next(line for line in table["md"].splitlines() if line.startswith("| MLP + SVD |"))
    assert svd_line.count("≈") == 3


def test_the_reference_row_is_there_and_paired_with_every_seed(table):
    reference = cell(table["csv"], "reference", "r2")
    assert reference["name"] == REFERENCE_NAME
    expected = metric_interval([0.55 + 0.05 * f for f in range(FOLDS)], 80, 20)
    assert reference["mean"] == pytest.approx(0.65) and reference["runs"] == FOLDS
    assert reference["low"] == pytest.approx(expected.low)
    # paired with glnet's 3 seeds on each fold: differences -0.05 - 0.01·seed
    assert reference["pairs"] == 15 and reference["difference"] == pytest.approx(-0.06)
    assert reference["mark"] == ""
    assert f"| {REFERENCE_NAME} |" in table["md"]


def test_the_trivial_baseline_is_scored_per_fold_from_the_predictions(table):
    baseline = cell(table["csv"], "baseline", "mse")
    squares = [(f + 1) ** 2 for f in range(FOLDS)]  # test labels 1 ± (fold + 1) against the train mean 1
    expected = metric_interval(squares, 3, 2, metric="mse")  # 2 train + 1 val LoRAs, 2 test LoRAs per fold
    assert baseline["mean"] == pytest.approx(11.0) and baseline["runs"] == FOLDS
    assert (baseline["low"], baseline["high"]) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert cell(table["csv"], "baseline", "r2")["mean"] == pytest.approx(0.0)
    tau = cell(table["csv"], "baseline", "kendall_tau")  # a constant prediction: undefined, shown as —
    assert tau["runs"] == 0 and np.isnan(tau["mean"])
    baseline_line = next(line for line in table["md"].splitlines() if line.startswith("| trivial baseline"))
    assert "—" in baseline_line


def test_the_ceiling_row_shows_the_reliability_values_and_exact(table):
    csv = table["csv"]
    r2, tau = cell(csv, "ceiling", "r2"), cell(csv, "ceiling", "kendall_tau")
    assert (r2["mean"], r2["low"], r2["high"]) == (0.8, 0.7, 0.9) and r2["status"] == "measured"
    assert (tau["mean"], tau["low"], tau["high"]) == (0.6, 0.5, 0.7)
    assert csv[(csv["row"] == "ceiling") & (csv["metric"] == "mse")].empty  # no ceiling for MSE: blank
    for metric in ("loss", "accuracy", "auroc"):
        assert cell(csv, "ceiling", metric, "multilabel")["status"] == "exact"
    ceiling_line = next(line for line in table["md"].splitlines() if line.startswith(f"| {CEILING_NAME} |"))
    cells = [c.strip() for c in ceiling_line.strip("|").split("|")]
    # columns: multilabel loss, acc, AUROC, then regression MSE, R², τ
    assert cells[1:] == ["exact", "exact", "exact", "", "0.800 [0.700, 0.900]", "0.600 [0.500, 0.700]"]
    assert table["md"].splitlines()[2].startswith(f"| {CEILING_NAME} |")  # the first row, above the models
    assert "<td>exact</td>" in table["html"]


def test_the_legend_explains_intervals_marks_ceiling_and_reference(table):
    md = table["md"]
    for words in ("Nadeau-Bengio", "≈: not significantly different from the best", "noise ceiling",
                  "ridge regression", "one fold", "runs per LoL-model cell: 15"):
        assert words in md, words


def test_the_tuning_table_names_the_chosen_setting_and_its_val_loss(table):
    tuning = table["tuning"].set_index("model")
    assert list(tuning.index) == ["glnet"]  # the reference and the untuned folders have no grid
    glnet = tuning.loc["glnet"]
    assert glnet["chosen"] == "folds 0-4: lr 0.001, wd 0.01, layers 2, head module-mean"  # hidden: not varied
    assert glnet["val_loss_chosen"] == pytest.approx(0.5) and glnet["val_loss_preset"] == pytest.approx(0.7)
    assert glnet["grid_size"] == 5 and glnet["folds"] == FOLDS
    assert "folds 0-4: lr 0.001" in table["tuning_md"]


def test_folds_that_disagree_are_listed_by_setting():
    a, b = {"lr": 0.001, "layers": 2}, {"lr": 0.01, "layers": 2}
    assert chosen_text({0: a, 1: a, 2: a, 3: b, 4: a}, ["lr"]) == "folds 0-2, 4: lr 0.001; fold 3: lr 0.01"


def test_learning_curves_are_drawn_with_points_per_share(folders, tmp_path):
    out = tmp_path / "curves.png"
    assert main(["plot-learning-curves", str(folders["glnet"]), str(folders["reference"]),
                 str(folders["attributes"]), "--reliability", str(folders["reliability"]), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = pd.read_csv(tmp_path / "curves.csv")
    glnet = points[(points["model"] == "glnet") & (points["task"] == "regression")].set_index("train_fraction")
    assert list(glnet.index) == [0.25, 0.5, 1.0]
    assert list(glnet["n_train"]) == [20, 40, 80]
    # below the full share only the selection seed runs: the mean over folds at seed 0
    assert glnet.loc[0.25, "mean"] == pytest.approx(np.mean([glnet_r2(f, 0, 0.25) for f in range(FOLDS)]))
    assert glnet.loc[0.25, "runs"] == FOLDS and glnet.loc[1.0, "runs"] == 15
    ceiling = points[points["model"] == "ceiling"].set_index("task")
    assert ceiling.loc["regression", "mean"] == 0.8 and ceiling.loc["multilabel", "scope"] == "exact"
    baseline = points[(points["model"] == "baseline") & (points["task"] == "regression")]
    assert list(baseline["train_fraction"]) == [1.0] and baseline["mean"].iloc[0] == pytest.approx(0.0)
    reference = points[points["model"] == "reference"]
    assert len(reference) == 3


def test_learning_curves_of_undefined_scores_are_a_note_not_an_error(tmp_path, capsys):
    """A tiny zoo's test folds can leave R² undefined everywhere (the test world's celeba): the
    figure says so and the rule goes on, and a group that has points is still drawn."""
    nan = lambda f, s, x: regression(float("nan"))  # noqa: E731
    undefined = write_cv(tmp_path / "undefined", "glnet", nan, fractions=(0.5, 1.0))
    out = tmp_path / "curves.png"
    assert main(["plot-learning-curves", str(undefined), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no model has a defined test score" in capsys.readouterr().err
    points = pd.read_csv(tmp_path / "curves.csv")
    assert set(points["model"]) <= {"baseline"}  # the baseline scores against the train mean still


def test_plain_fit_folders_are_one_run_each_with_seeds_only_intervals(tmp_path):
    values = {0: 0.5, 1: 0.6, 2: 0.8}
    folders = [write_fit_folder(tmp_path / f"svd{s}", model="svd", seed=s, fold=0, folds=1,
                                scores=regression(v)) for s, v in values.items()]
    assert main(["compare", *map(str, folders), "--out", str(tmp_path / "t")]) == 0
    csv = pd.read_csv(tmp_path / "t.csv")
    svd = csv[(csv["row"] == "svd") & (csv["metric"] == "r2")].iloc[0]
    expected = metric_interval(list(values.values()), 3, 2, fixed_split=True)
    assert svd["mean"] == pytest.approx(np.mean(list(values.values()))) and svd["runs"] == 3
    assert svd["low"] == pytest.approx(expected.low) and svd["scope"] == SEEDS_ONLY
    baseline = csv[(csv["row"] == "baseline") & (csv["metric"] == "mse")].iloc[0]
    assert baseline["runs"] == 1 and baseline["mean"] == pytest.approx(1.0)  # fold 0 only, once
    assert "seeds only" in (tmp_path / "t.md").read_text()


def test_zero_reliability_files_give_no_ceiling_row(folders, tmp_path):
    assert main(["compare", str(folders["glnet"]), "--out", str(tmp_path / "t")]) == 0
    assert "ceiling" not in set(pd.read_csv(tmp_path / "t.csv")["row"])


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting property name"),
    (json.dumps({"settings": {"zoo_name": "z", "task": "regression", "targets": ["y"], "model": "svd"}}),
     "missing key 'runs'"),
    (json.dumps({"settings": {"zoo_name": "z", "task": "regression", "targets": ["y"], "model": "svd"},
                 "runs": [{"fold": 0, "seed": 0, "train_fraction": 1.0, "n_train": "many", "n_test": 2,
                           "metrics": {"test": {}}}]}), "invalid literal"),
])
def test_a_malformed_cv_json_is_a_one_line_error_naming_the_file(tmp_path, capsys, content, reason):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cv.json").write_text(content)
    assert main(["compare", str(tmp_path / "bad"), "--out", str(tmp_path / "t")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(tmp_path / "bad" / "cv.json") in error and reason in error
    assert not (tmp_path / "t.csv").exists()


def test_a_malformed_reliability_file_and_a_non_fit_folder_are_named(folders, tmp_path, capsys):
    bad = tmp_path / "reliability.json"
    bad.write_text(json.dumps({"zoo": "celeba", "labels": {"clip_score": {"status": "measured"}}}))
    assert main(["compare", str(folders["glnet"]), "--reliability", str(bad), "--out", str(tmp_path / "t")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(bad) in error and "ceiling_r2" in error
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "t")]) == 2
    assert "neither a `lolzoo fit-cv` folder" in capsys.readouterr().err


def test_the_same_run_twice_is_refused(folders, tmp_path, capsys):
    assert main(["compare", str(folders["svd"]), str(folders["svd"]), "--out", str(tmp_path / "t")]) == 2
    assert "both hold svd on celeba · regression: clip_score, fold 0, seed 0" in capsys.readouterr().err


def test_scores_hold_every_run_and_the_baseline_once_per_fold(folders):
    scores = read_scores([folders["glnet"], folders["reference"]])
    runs = scores.table[scores.table["metric"] == "r2"].groupby("model").size().to_dict()
    # glnet: 15 full runs and 5 per smaller share; reference: 5 per share; baseline: one per fold
    assert runs == {"glnet": 25, "reference": 15, "baseline": 5}
