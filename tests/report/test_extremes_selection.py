"""Which LoRAs the figure-3 verb shows: the test LoRAs a fit predicts highest and lowest on CLIP score."""

import pytest

from lolzoo.report.extremes_figure import (ExtremesError, extremes_document, find_lora_dirs, pick_extremes,
                                           read_clip_fit, row_label)

from .fit_helpers import write_fit

# ten test LoRAs predicted 10..19 (t0 lowest), t4 unlabelled; train and val LoRAs predicted far above
ROWS = [(f"t{k}", "test", None if k == 4 else 30.0 + k, 10.0 + k) for k in range(10)]
ROWS += [("train-high", "train", 50.0, 99.0), ("val-high", "val", 50.0, 98.0), ("val-low", "val", 1.0, -5.0)]


def picked(picks):
    return [(p.kind, p.lora_id) for p in picks]


def test_best_and_worst_are_the_highest_and_lowest_test_predictions(tmp_path):
    fit = read_clip_fit(write_fit(tmp_path / "fit", ROWS, targets=("clip_score", "other")))
    picks = pick_extremes(fit.predictions, 3)
    assert picked(picks) == [("best", "t9"), ("best", "t8"), ("best", "t7"),
                             ("worst", "t2"), ("worst", "t1"), ("worst", "t0")]
    assert [p.predicted for p in picks] == [19.0, 18.0, 17.0, 12.0, 11.0, 10.0]
    assert [p.true for p in picks] == [39.0, 38.0, 37.0, 32.0, 31.0, 30.0]
    assert (fit.model, fit.seed, fit.zoo) == ("glnet", 0, "celeba")


def test_a_missing_true_score_is_said_so(tmp_path):
    fit = read_clip_fit(write_fit(tmp_path / "fit", ROWS))
    picks = pick_extremes(fit.predictions, 5)
    unlabelled = [p for p in picks if p.lora_id == "t4"]
    assert unlabelled[0].kind == "worst" and unlabelled[0].true is None
    assert "true: not labelled" in row_label(unlabelled[0])
    assert "predicted 19.0" in row_label(picks[0]) and "true 39.0" in row_label(picks[0])
    document = extremes_document(fit, picks, ["a prompt"], "results/bases/sd")
    assert document["worst"][-1] == {"lora_id": "t0", "predicted": 10.0, "true": 30.0}
    assert {"lora_id": "t4", "predicted": 14.0, "true": None} in document["worst"]
    assert (document["model"], document["seed"], document["prompts"]) == ("glnet", 0, ["a prompt"])


@pytest.mark.parametrize("count, best, worst", [(1, ["t2"], ["t0"]), (2, ["t2", "t1"], ["t0"]),
                                                (3, ["t2", "t1"], ["t0"])])
def test_fewer_than_2k_test_loras_are_split_without_overlap(tmp_path, count, best, worst):
    rows = [row for row in ROWS if row[0] in ("t0", "t1", "t2") or row[1] != "test"]
    fit = read_clip_fit(write_fit(tmp_path / "fit", rows))
    picks = pick_extremes(fit.predictions, count)
    assert [p.lora_id for p in picks if p.kind == "best"] == best
    assert [p.lora_id for p in picks if p.kind == "worst"] == worst


def test_a_single_test_lora_is_shown_as_best(tmp_path):
    fit = read_clip_fit(write_fit(tmp_path / "fit", [("t0", "test", 30.0, 10.0), ("a", "train", 1.0, 1.0)]))
    assert picked(pick_extremes(fit.predictions, 3)) == [("best", "t0")]


def test_no_test_lora_is_a_clear_error(tmp_path):
    fit = read_clip_fit(write_fit(tmp_path / "fit", [row for row in ROWS if row[1] != "test"]))
    with pytest.raises(ExtremesError, match="no test-split LoRA"):
        pick_extremes(fit.predictions, 3)


@pytest.mark.parametrize("task, targets", [("regression", ("val_loss",)), ("multilabel", ("clip_score",))])
def test_a_fit_without_a_clip_score_regression_is_refused(tmp_path, task, targets):
    folder = write_fit(tmp_path / "fit", ROWS, task=task, targets=targets)
    with pytest.raises(ExtremesError, match=f"a {task} fit of {targets[0]}.*needs a regression fit"):
        read_clip_fit(folder)


def test_a_folder_that_is_not_a_fit_is_refused(tmp_path):
    with pytest.raises(ExtremesError, match="not a `lolzoo fit` output"):
        read_clip_fit(tmp_path)


def test_lora_folders_are_found_across_shards_or_named_when_missing(tmp_path):
    for shard, lora_id in (("s0", "t0"), ("s1", "t9")):
        (tmp_path / shard / lora_id).mkdir(parents=True)
    shards = [tmp_path / "s0", tmp_path / "s1"]
    assert find_lora_dirs(["t9", "t0"], shards) == {"t9": tmp_path / "s1" / "t9", "t0": tmp_path / "s0" / "t0"}
    with pytest.raises(ExtremesError, match="t5: no LoRA folder in any of the 2 --loras folders"):
        find_lora_dirs(["t0", "t5"], shards)
