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
