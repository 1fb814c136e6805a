"""`lolzoo compare` on plain `lolzoo fit` folders: models x (zoo, task) cells, mean and interval over
seeds, and the trivial baseline (fit-cv folders: tests/report/test_cv_compare.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.report.compare import Group, baseline_scores
from lolzoo.report.intervals import SEEDS_ONLY, metric_interval
from tests.small_zoo import write_small_zoo


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    zoo = write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", 100)
    root = tmp_path_factory.mktemp("runs")
    folders = []
    for model, seed, task, target in [("svd", 0, "regression", "frob_norm_total"),
                                      ("svd", 1, "regression", "frob_norm_total"),
                                      ("dense", 0, "regression", "frob_norm_total"),
                                      ("dense", 1, "regression", "frob_norm_total"),
                                      ("svd", 0, "multiclass", "dominant_module")]:
        folder = root / f"{model}-{task}-{seed}"
        assert main(["fit", "--zoo", str(zoo), "--task", task, "--target", target, "--model", model,
                     "--seed", str(seed), "--out", str(folder), "--epochs", "3", "--hparam", "hidden=[8]"]) == 0
        folders.append(folder)
    return folders


def test_compare_writes_the_table(runs, tmp_path):
    """Plain `lolzoo fit` folders: one run each, pooled over seeds on the fixed split."""
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "table")]) == 0
    csv = pd.read_csv(tmp_path / "table.csv", dtype={"mark": str}).fillna({"mark": ""})
    regression = csv[csv["task"] == "regression"]
    # the synthetic zoo's labels are computed from its weights: exact, with no reliability file
    assert list(dict.fromkeys(regression["row"])) == ["ceiling", "svd", "dense", "baseline"]
    assert set(regression.loc[regression["row"] == "ceiling", "status"]) == {"exact"}
    documents = [json.loads((f / "metrics.json").read_text()) for f in runs[:2]]
    test_r2 = [d["metrics"]["test"]["r2"] for d in documents]
    sizes = documents[0]["sizes"]
    expected = metric_interval(test_r2, sizes["train"] + sizes["val"], sizes["test"], fixed_split=True, metric="r2")
    svd = regression[(regression["row"] == "svd") & (regression["metric"] == "r2")].iloc[0]
    assert svd["mean"] == pytest.approx(np.mean(test_r2)) and svd["runs"] == 2
    assert (svd["low"], svd["high"]) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert svd["scope"] == SEEDS_ONLY
    accuracy = csv[(csv["task"] == "multiclass") & (csv["metric"] == "accuracy")].set_index("row")
    assert accuracy.loc["svd", "runs"] == 1 and "dense" not in accuracy.index  # never run: no row

    md = (tmp_path / "table.md").read_text().splitlines()
    assert md[0].startswith("| model | synthetic · multiclass: dominant_module · acc | "
                            "synthetic · regression: frob_norm_total · MSE | "
                            "synthetic · regression: frob_norm_total · R² | synthetic · regression: frob_norm_total · τ |")
    svd_row = next(line for line in md if line.startswith("| MLP + SVD |"))
    assert f"{np.mean(test_r2):.3f} [{expected.low:.3f}, {expected.high:.3f}]" in svd_row
    assert "(one run)" in svd_row  # the multiclass cell: one seed, no interval
    baseline_row = next(line for line in md if line.startswith("| trivial baseline"))
    assert "—" in baseline_row  # Kendall's tau of a constant prediction is undefined

    page = (tmp_path / "table.html").read_text()  # the report's copy: the same cells as the Markdown
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr") == 1 + 4  # header + ceiling, svd, dense, baseline
    assert f"{np.mean(test_r2):.3f} [{expected.low:.3f}, {expected.high:.3f}]" in page
    assert "<td>trivial baseline (train mean / rate / majority)</td>" in page


def test_baseline_is_the_train_mean_and_the_majority_class():
    predictions = pd.DataFrame({
        "lora_id": list("abcdef"), "split": ["train", "train", "train", "test", "test", "val"],
        "target": ["y"] * 6, "label": [1.0, 2.0, 6.0, 3.0, 5.0, 0.0], "prediction": [0.0] * 6,
    })
    # the train mean 3 scored on test labels 3 and 5: MSE 2, R² 1 - 4 / 2 = -1
    scores = baseline_scores(predictions, Group("z", "regression", ("y",)))
    assert (scores["r2"], scores["mse"]) == (pytest.approx(-1.0), pytest.approx(2.0))
    classes = predictions.assign(label=["x", "y", "y", "y", "x", "x"])
    assert baseline_scores(classes, Group("z", "multiclass", ("y",)))["accuracy"] == pytest.approx(0.5)
    binary = predictions.assign(label=[1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    scores = baseline_scores(binary, Group("z", "multilabel", ("y",)))
    # the train rate 2/3 as the probability of test labels 1 and 0: BCE -(log 2/3 + log 1/3) / 2
    bce = -(np.log(2 / 3) + np.log(1 / 3)) / 2
    assert scores == {"loss": pytest.approx(bce), "accuracy": pytest.approx(0.5), "auroc": pytest.approx(0.5)}


def test_compare_refuses_two_runs_of_the_same_seed(runs, tmp_path, capsys):
    assert main(["compare", str(runs[0]), str(runs[0]), "--out", str(tmp_path / "t")]) == 2
    assert "both hold svd on synthetic · regression: frob_norm_total, fold 0, seed 0" in capsys.readouterr().err
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "t")]) == 2


def test_a_long_target_list_is_named_by_its_ends_and_count():
    assert Group("z", "regression", ("a", "b")).label == "z · regression: a, b"
    many = Group("z", "multilabel", tuple(f"has_{i}" for i in range(19)))
    assert many.label == "z · multilabel: has_0 … has_18 (19 labels)"


def test_a_tiny_value_is_shown_in_scientific_notation():
    from types import SimpleNamespace

    from lolzoo.report.compare import _format

    assert _format(SimpleNamespace(mean=1.234e-5, std=2.0e-6, seeds=3), 3) == "1.23e-05 ± 2.00e-06"
    assert _format(SimpleNamespace(mean=0.5, std=0.0, seeds=3), 3) == "0.500 ± 0.000"
