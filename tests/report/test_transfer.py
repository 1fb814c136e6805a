"""Cross-base transfer: `lolzoo transfer` scores fitted models on a sibling zoo's LoRAs, beside
their in-base test scores, with a baseline kept from the training zoo."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lolzoo.cli import main
from lolzoo.lol.artifacts import load_model_folder
from lolzoo.lol.data import zoo_data
from lolzoo.lol.metrics import r2_score
from lolzoo.lol.predict import pad_rank
from lolzoo.lol.train import predict_outputs
from lolzoo.zoo.load import load_zoo
from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo
from tests.small_zoo import small_zoo_spec

TARGET = "frob_norm_total"


@pytest.fixture(scope="module")
def zoos(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoos")
    write_synthetic_zoo(root / "a.parquet", small_zoo_spec(120, seed=0), zoo_name="zoo_a")
    write_synthetic_zoo(root / "b.parquet", small_zoo_spec(40, seed=1, ranks=(2,)), zoo_name="zoo_b")  # lower rank: padded
    return root


@pytest.fixture(scope="module")
def fits(zoos, tmp_path_factory):
    root = tmp_path_factory.mktemp("fits")
    for model, seed in (("dense", 0), ("dense", 1), ("glnet", 0)):
        assert main(["fit", "--zoo", str(zoos / "a.parquet"), "--task", "regression", "--target", TARGET,
                     "--model", model, "--seed", str(seed), "--epochs", "2",
                     "--out", str(root / f"{model}{seed}")]) == 0
    return [root / "dense0", root / "dense1", root / "glnet0"]


def test_cross_base_cells_score_the_fitted_model_on_every_sibling_lora(zoos, fits, tmp_path):
    assert main(["transfer", *map(str, fits), "--zoo", str(zoos / "b.parquet"), "--out", str(tmp_path / "t")]) == 0
    table = pd.read_csv(tmp_path / "t.csv").set_index("model")
    cross, home = f"zoo_a → zoo_b · regression: {TARGET}", f"zoo_a · regression: {TARGET}"

    sibling = load_zoo(zoos / "b.parquet")
    data = zoo_data(sibling, "regression", [TARGET])
    expected = []
    for folder in fits[:2]:  # the two dense seeds, by hand
        trained = load_model_folder(folder)
        batch = data.batch  # rank 2, zero-padded to the trained rank 4
        batch = type(batch)([pad_rank(u, trained.rank) for u in batch.U], [pad_rank(v, trained.rank) for v in batch.V])
        guess = trained.task.point_predictions(predict_outputs(trained.model, batch))
        expected.append(r2_score(guess, data.labels))
    assert table.loc["dense", f"{cross} | r2 | mean"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert table.loc["dense", f"{cross} | r2 | std"] == pytest.approx(np.std(expected), abs=1e-9)
    assert table.loc["dense", f"{cross} | r2 | seeds"] == 2 and table.loc["glnet", f"{cross} | r2 | seeds"] == 1

    # in-base cells are the fits' own test metrics
    in_base = [json.loads((f / "metrics.json").read_text())["metrics"]["test"]["r2"] for f in fits[:2]]
    assert table.loc["dense", f"{home} | r2 | mean"] == pytest.approx(np.mean(in_base), abs=1e-9)

    # the cross-base baseline predicts zoo A's train mean for every sibling LoRA
    predictions = pd.read_parquet(fits[0] / "predictions.parquet")
    train_mean = predictions.loc[predictions["split"] == "train", "label"].mean()
    truth = data.labels[:, 0]
    assert table.loc["baseline", f"{cross} | mse | mean"] == pytest.approx(np.mean((truth - train_mean) ** 2))

    text = (tmp_path / "t.md").read_text()
    assert "zoo_a → zoo_b" in text and "Cross-base transfer" in text
    assert "<td>GL-net</td>" in (tmp_path / "t.html").read_text()


def test_a_sibling_of_another_layout_is_refused_with_what_differs(fits, tmp_path, capsys):
    other = replace(small_zoo_spec(10, seed=2),
                    shapes=(("blocks.0.attn.q", 6, 4), ("blocks.9.mlp.fc", 4, 8), ("blocks.2.attn.out", 8, 6)))
    write_synthetic_zoo(tmp_path / "c.parquet", other, zoo_name="zoo_c")
    assert main(["transfer", str(fits[0]), "--zoo", str(tmp_path / "c.parquet"), "--out", str(tmp_path / "t")]) != 0
    err = capsys.readouterr().err
    assert "c.parquet" in err and "missing modules (1)" in err and "shapes differ (1)" in err
    assert not list(tmp_path.glob("t.*"))  # nothing half-written


def test_a_sibling_without_the_label_column_is_refused(fits, tmp_path, capsys):
    write_synthetic_zoo(tmp_path / "d.parquet", small_zoo_spec(10, seed=3), zoo_name="zoo_d")
    table = pq.read_table(tmp_path / "d.parquet")
    assert TARGET in table.column_names  # the synthetic zoo has it: drop it to make the case
    pq.write_table(table.drop_columns([TARGET]).replace_schema_metadata(table.schema.metadata), tmp_path / "e.parquet")
    assert main(["transfer", str(fits[0]), "--zoo", str(tmp_path / "e.parquet"), "--out", str(tmp_path / "t")]) != 0
    assert f"no label column(s) ['{TARGET}']" in capsys.readouterr().err


def test_a_fit_cv_folder_stands_for_its_fold_and_seed_fits(fits, zoos, tmp_path):
    cv = tmp_path / "dense-cv"  # the two dense fits as a fit-cv folder holds them
    for seed, folder in enumerate(fits[:2]):
        shutil.copytree(folder, cv / "fold0" / f"seed{seed}")
    (cv / "cv.json").write_text(json.dumps({"settings": {"model": "dense"}}))
    for name, folders in (("plain", fits), ("cv", [cv, fits[2]])):
        assert main(["transfer", *map(str, folders), "--zoo", str(zoos / "b.parquet"),
                     "--out", str(tmp_path / name)]) == 0
    assert pd.read_csv(tmp_path / "cv.csv").equals(pd.read_csv(tmp_path / "plain.csv"))
