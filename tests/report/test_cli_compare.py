"""`lolzoo compare`: models x (zoo, task) cells, mean ± std over seeds, and the trivial baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.report.compare import Group, baseline_scores
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
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "table")]) == 0
    csv = pd.read_csv(tmp_path / "table.csv")
    assert csv["model"].tolist() == ["svd", "dense", "baseline"]
    r2 = "synthetic · regression: frob_norm_total | r2"
    test_r2 = [json.loads((f / "metrics.json").read_text())["metrics"]["test"]["r2"] for f in runs[:2]]
    svd = csv.set_index("model").loc["svd"]
    assert svd[f"{r2} | mean"] == pytest.approx(np.mean(test_r2))
    assert svd[f"{r2} | std"] == pytest.approx(np.std(test_r2))  # population std, as the authors report
    assert svd[f"{r2} | seeds"] == 2
    accuracy = "synthetic · multiclass: dominant_module | accuracy"
    assert csv.set_index("model").loc["svd", f"{accuracy} | seeds"] == 1
    assert pd.isna(csv.set_index("model").loc["dense", f"{accuracy} | mean"])  # never run: an empty cell

    md = (tmp_path / "table.md").read_text().splitlines()
    assert md[0].startswith("| model | synthetic · multiclass: dominant_module · acc | "
                            "synthetic · regression: frob_norm_total · MSE | "
                            "synthetic · regression: frob_norm_total · R² | synthetic · regression: frob_norm_total · τ |")
    svd_row = next(line for line in md if line.startswith("| MLP + SVD |"))
    assert f"{np.mean(test_r2):.3f} ± {np.std(test_r2):.3f}" in svd_row
    baseline_row = next(line for line in md if line.startswith("| trivial baseline"))
    assert "—" in baseline_row  # Kendall's tau of a constant prediction is undefined
    assert "±" not in baseline_row  # the same for every seed: no spread to show

    page = (tmp_path / "table.html").read_text()  # the report's copy: the same cells as the Markdown
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr") == 1 + 3  # header + svd, dense, baseline
    assert f"<td>{np.mean(test_r2):.3f} ± {np.std(test_r2):.3f}</td>" in page
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
    assert "both svd on synthetic · regression: frob_norm_total with seed 0" in capsys.readouterr().err
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
