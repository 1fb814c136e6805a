"""The report's pieces beside the tables: the comparison figure, the zoo summary and the
benchmark summary, through their CLI verbs as the workflow calls them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lolzoo.cli import main
from lolzoo.report.benchmarks import BenchmarkError, read_benchmark, summarize
from lolzoo.report.compare import comparison, read_run
from lolzoo.report.comparison_figure import comparison_figure
from tests.small_zoo import fit_small, write_small_zoo

COUNT = 100
BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path, seconds, rss_mb):
    """A file as Snakemake's `benchmark:` writes it (one row, memory in MB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCHMARK_HEADER + f"{seconds}\t0:00:{int(seconds):02d}\t{rss_mb}\t900.1\t300.2\t310.4\t0.1\t0.2\t95.0\t{seconds}\n")
    return path


@pytest.fixture(scope="module")
def zoo_path(tmp_path_factory):
    return write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", COUNT)


@pytest.fixture(scope="module")
def runs(zoo_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    folders = []
    for model, seed in (("svd", 0), ("svd", 1), ("dense", 0)):
        folder = root / f"{model}-{seed}"
        folders.append(fit_small(zoo_path, folder, model, "--seed", seed, "--epochs", 1, "--hparam", "hidden=[8]"))
    return folders


def test_benchmark_summary_per_stage(tmp_path):
    root = tmp_path / "benchmarks" / "celeba"
    files = [write_benchmark(root / "finetune" / "celeba-00000-00049.tsv", 100.0, 2000.0),
             write_benchmark(root / "finetune" / "celeba-00050-00059.tsv", 30.0, 1000.0),
             write_benchmark(root / "evaluate" / "celeba-00000-00049.tsv", 12.0, 1500.0),
             write_benchmark(root / "lol" / "attributes-glnet-seed0.tsv", 5.0, 900.0)]
    table = summarize(files).set_index("stage")
    assert list(table.index) == ["finetune", "evaluate", "lol"]
    finetune = table.loc["finetune"]
    assert (finetune["jobs"], finetune["loras"], finetune["total_s"]) == (2, 60, 130.0)
    assert finetune["mean_s"] == 65.0 and finetune["max_s"] == 100.0
    assert finetune["s_per_lora"] == pytest.approx(130 / 60, abs=1e-3)
    assert (finetune["mean_rss_mb"], finetune["max_rss_mb"]) == (1500.0, 2000.0)
    assert math.isnan(table.loc["lol", "loras"]) and math.isnan(table.loc["lol", "s_per_lora"])


def test_a_broken_benchmark_file_is_named(tmp_path, capsys, zoo_path):
    broken = tmp_path / "finetune" / "x.tsv"
    broken.parent.mkdir()
    broken.write_text("not\ta benchmark\n")
    with pytest.raises(BenchmarkError, match=r"x\.tsv: not a Snakemake benchmark file"):
        read_benchmark(broken)
    assert main(["summarize-zoo", "--zoo", str(zoo_path), "--benchmarks", str(broken),
                 "--out", str(tmp_path / "summary")]) == 2
    assert "x.tsv: not a Snakemake benchmark file" in capsys.readouterr().err
    assert not (tmp_path / "summary").exists()  # nothing half-written


def test_zoo_summary_tables(zoo_path, tmp_path):
    bench = write_benchmark(tmp_path / "b" / "finetune" / "synthetic-00000-00099.tsv", 8.0, 700.0)
    assert main(["summarize-zoo", "--zoo", str(zoo_path), "--benchmarks", str(bench), "--out", str(tmp_path / "s")]) == 0
    facts = pd.read_csv(tmp_path / "s" / "zoo.csv").set_index("quantity")["value"]
    assert facts["LoRAs"] == str(COUNT) and facts["adapted modules"] == "3" and facts["ranks"] == "4"
    labels = pd.read_csv(tmp_path / "s" / "labels.csv").set_index("label")
    truth = pq.read_table(zoo_path, columns=["nuclear_norm", "dominant_module"]).to_pandas()
    assert labels.loc["nuclear_norm", "mean"] == pytest.approx(truth["nuclear_norm"].mean(), abs=1e-4)
    assert labels.loc["nuclear_norm", "max"] == pytest.approx(truth["nuclear_norm"].max(), abs=1e-4)
    assert labels.loc["dominant_module", "count"] == COUNT
    assert pd.read_csv(tmp_path / "s" / "benchmarks.csv")["loras"].tolist() == [COUNT]
    page = (tmp_path / "s" / "labels.html").read_text()  # the report's view: the same rows
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr") == 1 + len(labels)
    assert "<td>nuclear_norm</td>" in page


def test_comparison_figure_draws_a_bar_per_model_and_the_baseline(runs, tmp_path):
    long = comparison([read_run(folder) for folder in runs])
    figure = comparison_figure(long, "title")
    panels = [axis for axis in figure.axes if axis.get_visible()]
    assert len(panels) == 3  # MSE, R² and Kendall's τ of the one regression task
    r2 = next(axis for axis in panels if axis.get_ylabel() == "R²")
    heights = [bar.get_height() for bar in r2.patches]
    expected = long[(long["metric"] == "r2") & (long["model"] != "baseline")].set_index("model")["mean"]
    assert heights == pytest.approx([expected["svd"], expected["dense"]])
    baseline = long[(long["metric"] == "r2") & (long["model"] == "baseline")]["mean"].iloc[0]
    assert r2.get_lines()[-1].get_ydata()[0] == pytest.approx(baseline)

    out = tmp_path / "figure.png"
    assert main(["plot-comparison", *map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_speedup_is_the_evaluation_time_over_the_lol_time_per_lora(runs, tmp_path):
    # two evaluate shards: 50 LoRAs in 100 s and 10 LoRAs in 20 s -> 2 s a LoRA
    benchmarks = [write_benchmark(tmp_path / "evaluate" / "zoo-00000-00049.tsv", 100.0, 900.0),
                  write_benchmark(tmp_path / "evaluate" / "zoo-00050-00059.tsv", 20.0, 900.0)]
    assert main(["speedup", *map(str, runs), "--evaluation-benchmarks", *map(str, benchmarks),
                 "--out", str(tmp_path / "speedup")]) == 0
    table = pd.read_csv(tmp_path / "speedup.csv").set_index("model")
    assert list(table.index) == ["svd", "dense"] and table.loc["svd", "fits"] == 2
    svd_times = []
    for folder in runs[:2]:
        document = json.loads((folder / "metrics.json").read_text())
        svd_times.append((document["timings"]["preprocess_s"] + document["timings"]["predict_s"]) / COUNT)
    assert table.loc["svd", "lol_s_per_lora"] == pytest.approx(np.median(svd_times))
    assert table.loc["svd", "evaluation_s_per_lora"] == pytest.approx(2.0)
    assert table.loc["svd", "speedup"] == pytest.approx(2.0 / np.median(svd_times))
    assert "×</td>" in (tmp_path / "speedup.html").read_text()


def test_speedup_needs_shard_benchmarks(runs, tmp_path, capsys):
    other = write_benchmark(tmp_path / "evaluate" / "base.tsv", 5.0, 900.0)
    assert main(["speedup", str(runs[0]), "--evaluation-benchmarks", str(other), "--out", str(tmp_path / "s")]) == 2
    assert "must be shard files" in capsys.readouterr().err and not (tmp_path / "s.csv").exists()


def test_prediction_figure_plots_each_regression_run_against_its_truth(runs, zoo_path, tmp_path, capsys):
    out = tmp_path / "predictions.png"
    assert main(["plot-predictions", *map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from lolzoo.report.prediction_figure import prediction_figure
    figure = prediction_figure([read_run(folder) for folder in runs])
    panels = [axis for axis in figure.axes if axis.get_visible()]
    assert len(panels) == 2  # one target x two models (svd's lowest seed, dense)
    svd = pd.read_parquet(runs[0] / "predictions.parquet")
    test = svd[svd["split"] == "test"]
    points = panels[0].collections[0].get_offsets()
    assert np.allclose(points[:, 0], test["label"]) and np.allclose(points[:, 1], test["prediction"])

    classification = tmp_path / "multiclass"
    assert main(["fit", "--zoo", str(zoo_path), "--task", "multiclass", "--target", "dominant_module",
                 "--model", "svd", "--out", str(classification), "--epochs", "1"]) == 0
    assert main(["plot-predictions", str(classification), "--out", str(tmp_path / "none.png")]) == 2
    assert "none of the runs is a regression" in capsys.readouterr().err


def test_label_figure_has_a_bar_per_model_and_label_and_the_majority_baseline(zoo_path, tmp_path):
    runs = []
    for model in ("svd", "glnet"):
        runs.append(tmp_path / model)
        assert main(["fit", "--zoo", str(zoo_path), "--task", "multilabel", "--target", "positive_functional_*",
                     "--model", model, "--out", str(runs[-1]), "--epochs", "1"]) == 0
    assert main(["plot-labels", *map(str, runs), "--out", str(tmp_path / "labels.png")]) == 0
    assert (tmp_path / "labels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from lolzoo.report.label_figure import label_accuracies, label_figure, majority_accuracy
    (group, entry), = label_accuracies([read_run(folder) for folder in runs]).items()
    per_target = json.loads((runs[0] / "metrics.json").read_text())["metrics"]["test"]["per_target"]
    assert entry["models"]["svd"] == {label: per_target[label]["accuracy"] for label in group.targets}
    predictions = pd.read_parquet(runs[0] / "predictions.parquet")
    rows = predictions[predictions["target"] == "positive_functional_0"]
    majority = float(rows.loc[rows["split"] == "train", "label"].mean() >= 0.5)
    expected = (rows.loc[rows["split"] == "test", "label"] == majority).mean()
    assert majority_accuracy(predictions, "positive_functional_0", "test") == pytest.approx(expected)
    axis = label_figure([read_run(folder) for folder in runs]).axes[0]
    assert len(axis.patches) == 2 * 3  # two models x three labels
