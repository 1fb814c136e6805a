"""The report readers that take fit folders also take `lolzoo fit-cv` folders, as their fold*/seed*
fits (lolzoo.lol.results.fit_folders), counting each (fold, seed) once and the baseline once per fold."""

from __future__ import annotations

import numpy as np
import pytest

from lolzoo.cli import main
from lolzoo.report.compare import CompareError, comparison, expand, read_runs
from lolzoo.report.extremes_figure import read_clip_fit
from lolzoo.report.label_figure import label_accuracies
from lolzoo.report.prediction_figure import prediction_figure
from lolzoo.report.speedup import speedup_table
from tests.report.cv_helpers import write_cv, write_fit_folder
from tests.report.test_report_outputs import write_benchmark

FOLDS, SEEDS = 5, (0, 1, 2)
ATTRIBUTES = ("has_a", "has_b")


def r2(fold, seed):
    return 0.5 + 0.1 * fold + 0.01 * seed


@pytest.fixture(scope="module")
def cv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    return {
        "glnet": write_cv(root / "glnet", "glnet", lambda f, s, _: {"mse": 1.0, "r2": r2(f, s), "kendall_tau": 0.5}),
        "reference": write_cv(root / "reference", "reference", lambda f, s, _: 0.4),
        "labels": write_cv(root / "labels", "svd", lambda f, s, _: {"loss": 0.5, "accuracy": 0.6 + 0.1 * s,
                                                                     "auroc": 0.7},
                           task="multilabel", targets=ATTRIBUTES),
    }


def test_expand_lists_every_fold_and_seed_and_skips_the_reference(cv):
    folders = expand([cv["glnet"], cv["reference"]])
    assert [f.relative_to(cv["glnet"]).as_posix() for f in folders] == \
        [f"fold{k}/seed{s}" for k in range(FOLDS) for s in SEEDS]


def test_a_cv_folder_without_fits_is_named(tmp_path):
    write_cv(tmp_path / "svd", "svd", lambda f, s, _: 0.5, fits=False)
    with pytest.raises(CompareError, match="no fits under it"):
        expand([tmp_path / "svd"])


def test_mean_and_std_count_each_fold_and_seed_once(cv, tmp_path):
    long = comparison(read_runs([cv["glnet"], cv["reference"]])).set_index(["model", "metric"])
    values = [r2(f, s) for f in range(FOLDS) for s in SEEDS]
    assert long.loc[("glnet", "r2"), "mean"] == pytest.approx(np.mean(values))
    assert long.loc[("glnet", "r2"), "std"] == pytest.approx(np.std(values))
    assert long.loc[("glnet", "r2"), "seeds"] == 15
    # the baseline once per fold: MSE (fold + 1)² (tests/report/cv_helpers.fold_rows)
    assert long.loc[("baseline", "mse"), "seeds"] == FOLDS
    assert long.loc[("baseline", "mse"), "mean"] == pytest.approx(11.0)
    out = tmp_path / "comparison.png"
    assert main(["plot-comparison", str(cv["glnet"]), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predictions_of_every_fold_at_the_lowest_seed(cv, tmp_path):
    figure = prediction_figure(read_runs([cv["glnet"]]))
    (axis,) = [a for a in figure.axes if a.get_visible()]
    assert len(axis.collections[0].get_offsets()) == 2 * FOLDS  # each fold's two test LoRAs, seed 0
    assert "each of 5 folds" in figure._suptitle.get_text() and "seed 0" in figure._suptitle.get_text()
    assert main(["plot-predictions", str(cv["glnet"]), "--out", str(tmp_path / "p.png")]) == 0


def test_label_accuracies_average_runs_and_the_baseline_over_folds(cv, tmp_path):
    (group, entry), = label_accuracies(read_runs([cv["labels"]])).items()
    assert entry["models"]["svd"] == {a: pytest.approx(0.7) for a in ATTRIBUTES}  # 0.6 + 0.1 · mean seed 1
    # has_a: the majority 1 on test labels 1, 0; has_b (all 0 in cv_helpers.fold_rows): always right
    assert entry["baseline"] == {"has_a": pytest.approx(0.5), "has_b": pytest.approx(1.0)}
    assert main(["plot-labels", str(cv["labels"]), "--out", str(tmp_path / "l.png")]) == 0


def test_speedup_counts_every_fit_of_a_cv_folder(cv, tmp_path):
    table = speedup_table(expand([cv["glnet"], cv["labels"]]), 10.0).set_index("model")
    assert table.loc["glnet", "fits"] == 15 and table.loc["svd", "fits"] == 15
    assert table.loc["glnet", "lol_s_per_lora"] == pytest.approx(0.2)  # (0.5 + 0.5) s over 5 LoRAs
    benchmark = write_benchmark(tmp_path / "evaluate" / "celeba-00000-00009.tsv", 20.0, 100.0)
    assert main(["speedup", str(cv["glnet"]), "--evaluation-benchmarks", str(benchmark),
                 "--out", str(tmp_path / "s")]) == 0


def test_extremes_take_fold_0_at_the_lowest_seed(tmp_path):
    folder = write_cv(tmp_path / "glnet", "glnet", lambda f, s, _: 0.5, seeds=(2, 1), folds=2)
    fit = read_clip_fit(folder)
    assert fit.folder == folder / "fold0" / "seed1" and fit.seed == 1
    plain = write_fit_folder(tmp_path / "plain", model="svd", seed=3, fold=0, folds=1,
                             scores={"mse": 1.0, "r2": 0.5, "kendall_tau": 0.5})
    assert read_clip_fit(plain).folder == plain
