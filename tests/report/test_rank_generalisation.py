"""Rank generalisation: `fit --train-ranks` trains on some ranks and tests every other LoRA;
`lolzoo rank-generalisation` scores the fits per rank."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lolzoo.cli import main
from lolzoo.lol.metrics import r2_score
from tests.small_zoo import fit_small, write_small_zoo

RANKS = (2, 4, 8)


@pytest.fixture(scope="module")
def zoo_path(tmp_path_factory):
    return write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", 120, ranks=RANKS)


@pytest.fixture(scope="module")
def fits(zoo_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("fits")
    return [fit_small(zoo_path, root / model, model, "--train-ranks", 4, "--epochs", 2) for model in ("dense", "glnet")]


def test_only_the_trained_ranks_train_and_every_other_lora_is_tested(zoo_path, fits):
    ranks = pq.read_table(zoo_path, columns=["lora_id", "rank"]).to_pandas().set_index("lora_id")["rank"]
    assert set(ranks) == set(RANKS)
    predictions = pd.read_parquet(fits[0] / "predictions.parquet")
    predictions["rank"] = predictions["lora_id"].map(ranks)
    assert set(predictions.loc[predictions["split"].isin(["train", "val"]), "rank"]) == {4}
    assert (predictions.loc[predictions["rank"] != 4, "split"] == "test").all()
    assert json.loads((fits[0] / "metrics.json").read_text())["settings"]["train_ranks"] == [4]


def test_the_rank_table_scores_each_rank_of_the_test_split(zoo_path, fits, tmp_path):
    assert main(["rank-generalisation", *map(str, fits), "--zoo", str(zoo_path), "--out", str(tmp_path / "ranks")]) == 0
    table = pd.read_csv(tmp_path / "ranks.csv", dtype={"trained_on": str})
    assert sorted(table["rank"].unique()) == list(RANKS) and set(table["model"]) == {"dense", "glnet"}
    assert (table["trained_on"] == "4").all() and (table["metric"] == "r2").all()
    ranks = pq.read_table(zoo_path, columns=["lora_id", "rank"]).to_pandas().set_index("lora_id")["rank"]
    predictions = pd.read_parquet(fits[0] / "predictions.parquet")
    rank8 = predictions[(predictions["split"] == "test") & (predictions["lora_id"].map(ranks) == 8)]
    row = table[(table["model"] == "dense") & (table["rank"] == 8)].iloc[0]
    assert row["mean"] == pytest.approx(r2_score(rank8["prediction"], rank8["label"]))
    assert row["loras"] == len(rank8) and row["seeds"] == 1
    assert (tmp_path / "ranks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<td>MLP + Dense</td>" in (tmp_path / "ranks.html").read_text()


def test_train_ranks_absent_from_the_zoo_is_a_clear_error(zoo_path, tmp_path, capsys):
    assert main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--target", "frob_norm_total",
                 "--model", "svd", "--train-ranks", "16", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "train_ranks [16]: the train or val split has no LoRA of those ranks (ranks in the zoo: [2, 4, 8])" in err
    assert not (tmp_path / "x").exists()
    assert main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--target", "frob_norm_total",
                 "--model", "svd", "--train-ranks", "four", "--out", str(tmp_path / "x")]) == 2
    assert "--train-ranks takes ranks separated by commas" in capsys.readouterr().err


def test_a_fit_cv_folder_is_read_as_its_fits(zoo_path, fits, tmp_path):
    cv = tmp_path / "dense-cv"
    shutil.copytree(fits[0], cv / "fold0" / "seed0")
    (cv / "cv.json").write_text(json.dumps({"settings": {"model": "dense"}}))
    for name, folders in (("plain", fits), ("cv", [cv, fits[1]])):
        assert main(["rank-generalisation", *map(str, folders), "--zoo", str(zoo_path),
                     "--out", str(tmp_path / name)]) == 0
    assert pd.read_csv(tmp_path / "cv.csv").equals(pd.read_csv(tmp_path / "plain.csv"))
