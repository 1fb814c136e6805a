"""A trained model folder: written, read back without unpickling, the same predictions."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from lolzoo.lol.artifacts import CONFIG_FILE, WEIGHTS_FILE, ArtifactError, load_model_folder
from lolzoo.lol.data import zoo_batch
from lolzoo.lol.results import METRICS_FILE, PREDICTIONS_FILE, write_fit_outputs
from lolzoo.lol.train import fit, predict_outputs
from lolzoo.zoo import load_zoo
from tests.small_zoo import write_small_zoo


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return load_zoo(write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", 90))


@pytest.mark.parametrize("kind, task, targets", [
    ("glnet", "regression", ["frob_norm_total", "nuclear_norm"]),
    ("o-align", "multiclass", ["dominant_module"]),  # a fitted template buffer and a class list
])
def test_round_trip_gives_the_same_predictions(zoo, tmp_path, kind, task, targets):
    result = fit(kind, zoo, task, targets, seed=1, hparams={"epochs": 2, "hidden": [8]})
    folder = write_fit_outputs(tmp_path / "run", result, zoo, {"zoo": str(zoo.path)})
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE,
                                                               PREDICTIONS_FILE])
    trained = load_model_folder(folder)
    assert not trained.model.training
    assert torch.equal(predict_outputs(trained.model, zoo_batch(zoo)), result.outputs)
    assert trained.task.to_json() == result.task.to_json()
    assert [m.key for m in trained.modules] == [m.key for m in zoo.modules] and trained.rank == 4

    info = json.loads((folder / CONFIG_FILE).read_text())
    assert info["model"] == result.model.config()
    assert info["layout"]["modules"][0] == {"name": "blocks.0.attn.q", "key": "blocks_0_attn_q", "n": 6, "m": 4,
                                            "conv_kernel": None}
    assert info["training"]["seed"] == 1 and info["training"]["settings"]["epochs"] == 2
    assert info["zoo"]["name"] == "synthetic" and info["lolzoo_version"]


def test_predictions_table_has_one_row_per_lora_and_target(zoo, tmp_path):
    result = fit("svd", zoo, "regression", ["frob_norm_total", "nuclear_norm"], hparams={"epochs": 1})
    frame = pd.read_parquet(write_fit_outputs(tmp_path / "run", result, zoo, {}) / PREDICTIONS_FILE)
    assert list(frame.columns) == ["lora_id", "split", "target", "label", "prediction"]
    assert len(frame) == 2 * len(zoo)
    first = frame[frame["lora_id"] == zoo.lora_ids[0]].set_index("target")
    assert first.loc["nuclear_norm", "label"] == pytest.approx(zoo.table["nuclear_norm"].iloc[0])
    expected = result.task.point_predictions(result.outputs[:1])[0]
    assert first["prediction"].tolist() == pytest.approx(expected.tolist())
    assert set(frame["split"]) == {"train", "val", "test"}


def test_loading_refuses_incomplete_or_newer_folders(zoo, tmp_path):
    result = fit("dense", zoo, "regression", ["frob_norm_total"], hparams={"epochs": 1, "hidden": [4]})
    folder = write_fit_outputs(tmp_path / "run", result, zoo, {})
    with pytest.raises(ArtifactError, match="no model.json"):
        load_model_folder(tmp_path)
    info = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**info, "format_version": 99}))
    with pytest.raises(ArtifactError, match="newer"):
        load_model_folder(folder)
    (folder / CONFIG_FILE).write_text(json.dumps({**info, "model": {**info["model"], "hparams": {"hidden": [5]}}}))
    with pytest.raises(ArtifactError, match="weights do not fit"):
        load_model_folder(folder)
    # a fit never writes over an earlier run by accident
    with pytest.raises(FileExistsError, match="folder exists and is not empty"):
        write_fit_outputs(folder, result, zoo, {})


def test_loras_without_a_label_are_predicted_but_not_scored(zoo, tmp_path):
    table = zoo.table.copy()
    table["dominant_module"] = table["dominant_module"].astype("object")
    table.loc[[0, 7], "dominant_module"] = None
    holey = type(zoo)(**{**zoo.__dict__, "table": table})
    result = fit("svd", holey, "multiclass", ["dominant_module"], hparams={"epochs": 1})
    assert result.sizes["dropped_missing_target"] == 2
    assert sum(result.sizes[s] for s in ("train", "val", "test")) == len(zoo) - 2
    frame = pd.read_parquet(write_fit_outputs(tmp_path / "run", result, holey, {}) / PREDICTIONS_FILE)
    assert len(frame) == len(zoo) and frame["label"].isna().sum() == 2
    assert frame.loc[[0, 7], "label"].isna().all() and frame.loc[[0, 7], "prediction"].isin([0, 1, 2]).all()
