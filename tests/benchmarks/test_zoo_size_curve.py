"""The zoo-size learning curve (benchmarks/zoo_size_curve.py): which tasks it can fit without
sampling, and how it turns the curve into a trend and the zoo size a goal needs."""

import importlib.util
import math

import pytest

from tests.conftest import REPO


@pytest.fixture
def curve(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # it imports the sweep's pilot helpers
    spec = importlib.util.spec_from_file_location("zoo_size_curve", REPO / "benchmarks" / "zoo_size_curve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_tasks_on_data_labels_are_fitted(curve):
    from lolzoo.config import load_config

    tasks = load_config(REPO / "config" / "config.yaml", REPO)["lol"]["tasks"]
    celeba = ["Eyeglasses", "Long_Hair", "Male", "No_Beard", "Smiling", "Wearing_Hat", "Young", "identity"]
    assert [t[0] for t in curve.data_tasks(tasks["celeba"], celeba)] == ["attributes"]  # not clip_score
    digits = [f"class_{k}" for k in range(10)] + ["dataset_size"]
    assert [t[:2] for t in curve.data_tasks(tasks["imagenette"], digits)] == \
        [("classes", "multilabel"), ("dataset_size", "multiclass")]
    assert curve.data_tasks(tasks["celeba"], ["clip_score"]) == [("clip_score", "regression", ["clip_score"],
                                                                  "clip-score")]


def rows(task, metric, points):
    return [{"loras": n, "task": task, "metric": metric, "model": model, "mean": m, "low": lo, "high": hi}
            for n, model, m, lo, hi in points]


def test_a_rising_curve_says_how_many_doublings_reach_the_goal(curve):
    found = curve.trend(rows("attributes", "auroc", [
        (200, "svd", 0.60, 0.58, 0.62), (400, "svd", 0.70, 0.68, 0.72),
        (200, "glnet", 0.65, 0.60, 0.70), (400, "glnet", 0.66, 0.61, 0.71),
    ]), target=0.8)[0]
    assert found["best_model"] == "svd" and found["goal"] == 0.8
    assert found["gain_per_doubling"] == pytest.approx(0.10)
    assert found["gain_low"] == pytest.approx(0.10 - math.hypot(0.02, 0.02))
    assert found["doublings_to_goal"] == pytest.approx(1.0)
    assert "1.0 more doublings (about 800 LoRAs)" in curve.trend_text([found])


def test_a_flat_curve_or_a_noisy_gain_does_not_promise_the_goal(curve):
    flat = curve.trend(rows("attributes", "auroc", [
        (100, "svd", 0.60, 0.50, 0.70), (400, "svd", 0.62, 0.52, 0.72)]), target=0.8)[0]
    assert flat["gain_per_doubling"] == pytest.approx(0.01)  # two doublings between the sizes
    assert "doublings_to_goal" not in flat
    assert "not reached" in curve.trend_text([flat])


def test_dataset_size_aims_past_the_majority_class_by_its_interval(curve):
    found = curve.trend(rows("dataset_size", "accuracy", [
        (200, "majority", 0.21, math.nan, math.nan), (400, "majority", 0.20, math.nan, math.nan),
        (200, "svd", 0.18, 0.15, 0.21), (400, "svd", 0.22, 0.17, 0.27)]), target=0.8)[0]
    assert found["best_model"] == "svd"  # the majority share is the baseline, never the best model
    assert found["goal"] == pytest.approx(0.20 + 0.05)
    assert "doublings_to_goal" not in found  # 0.04 ± 0.058 per doubling
    reached = curve.trend(rows("dataset_size", "accuracy", [
        (400, "majority", 0.20, math.nan, math.nan), (400, "svd", 0.30, 0.27, 0.33)]), target=0.8)[0]
    assert reached["goal"] == pytest.approx(0.23)
    assert "reached" in curve.trend_text([reached]) and "one size" not in curve.trend_text([reached])


def test_the_table_has_one_column_per_size_and_no_interval_for_a_share(curve):
    text = curve.table_text(rows("dataset_size", "accuracy", [
        (200, "majority", 0.21, math.nan, math.nan), (400, "majority", 0.20, math.nan, math.nan),
        (200, "svd", 0.18, 0.15, 0.21), (400, "svd", 0.22, 0.17, 0.27)]))
    lines = text.splitlines()
    assert lines[0] == "| task | metric | model | 200 LoRAs | 400 LoRAs |"
    assert "| dataset_size | accuracy | majority | 0.210 | 0.200 |" in lines
    assert "| dataset_size | accuracy | svd | 0.180 [0.150, 0.210] | 0.220 [0.170, 0.270] |" in lines


def test_the_gain_is_fitted_over_every_size_weighted_by_its_interval(curve):
    points = [(100, "dense", 0.55, 0.45, 0.65), (200, "dense", 0.60, 0.57, 0.63), (400, "dense", 0.65, 0.64, 0.66)]
    found = curve.trend(rows("attributes", "auroc", points), target=0.8)[0]
    assert found["gain_per_doubling"] == pytest.approx(0.05)  # on a line, whatever the weights
    noisy = points[:2] + [(400, "dense", 0.62, 0.61, 0.63)]  # the tightest point pulls the line toward it
    assert curve.trend(rows("attributes", "auroc", noisy), target=0.8)[0]["gain_per_doubling"] < 0.035


def test_the_outputs_are_written_again_from_the_csv(curve, tmp_path, capsys):
    written = rows("attributes", "auroc", [(100, "svd", 0.6, 0.5, 0.7), (200, "svd", 0.7, 0.65, 0.75)])
    for row in written:
        row.update(steps_x=1.0, lr_x=1.0, finetune_s_per_lora=0.3)
    curve.write_outputs(tmp_path / "size_curve", written, 0.8, 1.0, 1.0, 0.3, 5)
    first = (tmp_path / "size_curve.md").read_text()
    (tmp_path / "size_curve.md").unlink()
    import sys
    from unittest import mock

    with mock.patch.object(sys, "argv", ["zoo_size_curve.py", "--from-csv", str(tmp_path / "size_curve.csv")]):
        curve.main()
    assert (tmp_path / "size_curve.md").read_text() == first
    assert (tmp_path / "size_curve.png").stat().st_size > 0
    assert "svd | 0.600 [0.500, 0.700] | 0.700 [0.650, 0.750]" in capsys.readouterr().out
