"""`lolzoo fit` and `lolzoo predict` end to end on a small synthetic zoo, in process."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from lolzoo.cli import main
from lolzoo.lol.testing import random_gl
from lolzoo.lora import write_peft
from lolzoo.lora.testing import random_lora
from lolzoo.synthetic.generator import synthetic_lora
from tests.small_zoo import small_zoo_spec

COUNT = 100
KINDS = ("mlp", "svd", "dense", "glnet")
FIT_FLAGS = ("--epochs", 2, "--hparam", "hidden=[8]")  # brief: invariance does not depend on training


@pytest.fixture(scope="module")
def lora_folders(tmp_path_factory):
    """LoRA 3 of the zoo as a PEFT folder, and the same LoRA re-parametrised as (U g, V g^{-T})."""
    root = tmp_path_factory.mktemp("loras")
    lora = synthetic_lora(small_zoo_spec(COUNT), 3)
    g = random_gl(4, cond=math.e ** 2, generator=torch.Generator().manual_seed(7)).float()
    return write_peft(lora, root / "lora"), write_peft(lora.transformed(g), root / "lora_g")


def test_fit_writes_metrics_predictions_and_model(fitted, zoo_path):
    folder = fitted / "glnet"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"lolzoo_version", "settings", "model_config", "metrics", "best_epoch", "history",
                            "timings", "sizes"}
    assert set(metrics["metrics"]) == {"train", "val", "test"} and "r2" in metrics["metrics"]["test"]
    settings = metrics["settings"]
    assert settings["model"] == "glnet" and settings["targets"] == ["frob_norm_total"] and settings["epochs"] == 2
    assert settings["zoo"] == str(zoo_path) and settings["zoo_name"] == "synthetic"
    assert settings["model_hparams"] == {"hidden": [8]} and metrics["model_config"]["hparams"]["hidden"] == [8]
    assert {"load_s", "preprocess_s", "train_s", "predict_s_per_lora", "total_s"} <= set(metrics["timings"])
    assert metrics["sizes"]["loras"] == COUNT and 1 <= metrics["best_epoch"] <= 2
    frame = pd.read_parquet(folder / "predictions.parquet")
    assert len(frame) == COUNT and frame["prediction"].notna().all()
    assert (folder / "model.safetensors").is_file() and (folder / "model.json").is_file()


@pytest.mark.parametrize("kind", ["svd", "dense", "glnet"])
def test_predict_is_invariant_to_reparametrisation(fitted, lora_folders, predict_jsonl, kind):
    code, lines, _ = predict_jsonl("--model", fitted / kind, *lora_folders)
    assert code == 0 and [line["path"] for line in lines] == [str(p) for p in lora_folders]
    assert isinstance(lines[0]["prediction"], float)
    assert lines[1]["prediction"] == pytest.approx(lines[0]["prediction"], rel=1e-4, abs=1e-4)
    # and it is the prediction `lolzoo fit` made for the same LoRA inside the zoo
    frame = pd.read_parquet(fitted / kind / "predictions.parquet").set_index("lora_id")
    assert lines[0]["prediction"] == pytest.approx(frame.loc["synthetic-00003", "prediction"], rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_tells_loras_apart_as_the_fit_did(fitted, tmp_path, predict_jsonl, kind):
    """Different LoRAs get clearly different predictions (a constant predictor fails), each the one
    `lolzoo fit` wrote for the same LoRA in predictions.parquet."""
    indices = (3, 8, 17, 42, 77)
    folders = [write_peft(synthetic_lora(small_zoo_spec(COUNT), i), tmp_path / f"lora{i}") for i in indices]
    code, lines, _ = predict_jsonl("--model", fitted / kind, *folders)
    assert code == 0 and [line["path"] for line in lines] == [str(p) for p in folders]
    got = [line["prediction"] for line in lines]
    frame = pd.read_parquet(fitted / kind / "predictions.parquet").set_index("lora_id")
    fit_made = [float(frame.loc[f"synthetic-{i:05d}", "prediction"]) for i in indices]
    assert max(fit_made) - min(fit_made) > 0.3  # the fitted model itself is not constant on these LoRAs
    assert got == pytest.approx(fit_made, rel=1e-4, abs=1e-4)
    assert max(got) - min(got) > 0.3


def test_predict_with_the_plain_mlp_is_not_invariant(fitted, lora_folders, predict_jsonl):
    code, lines, _ = predict_jsonl("--model", fitted / "mlp", *lora_folders)
    assert code == 0 and abs(lines[1]["prediction"] - lines[0]["prediction"]) > 1e-3


def test_predict_refuses_another_layout_and_still_predicts_the_rest(fitted, lora_folders, tmp_path, predict_jsonl):
    other = write_peft(random_lora({"blocks.0.attn.q": (6, 5), "blocks.9.extra": (3, 3)}, rank=4), tmp_path / "other")
    code, lines, err = predict_jsonl("--model", fitted / "glnet", other, lora_folders[0])
    assert code == 1
    assert [line["path"] for line in lines] == [str(lora_folders[0])]
    refusal = next(line for line in err.splitlines() if str(other) in line)
    assert "missing modules (2): blocks_1_mlp_fc; blocks_2_attn_out" in refusal
    assert "modules not in the trained layout (1): blocks_9_extra" in refusal
    assert "shapes differ (1): blocks_0_attn_q is 6x5, trained 6x4" in refusal


def test_predict_rank_agnostic_models_take_any_rank_and_fixed_rank_models_refuse_others(fitted, tmp_path,
                                                                                         predict_jsonl):
    spec = small_zoo_spec(COUNT)
    low = synthetic_lora(type(spec)(**{**spec.__dict__, "ranks": (2,)}), 5)
    high = synthetic_lora(type(spec)(**{**spec.__dict__, "ranks": (6,)}), 5)
    low_dir, high_dir = write_peft(low, tmp_path / "low"), write_peft(high, tmp_path / "high")
    code, lines, _ = predict_jsonl("--model", fitted / "glnet", low_dir, high_dir)
    assert code == 0 and len(lines) == 2  # GL-net takes any rank
    code, lines, err = predict_jsonl("--model", fitted / "mlp", low_dir, high_dir)
    assert code == 1 and lines == []  # lolzoo.lol.predict.rank_problem; tests/lol/test_cli_predict_inputs.py
    assert "rank 2, but the mlp model takes rank 4 only" in err and "rank 6, but the mlp model takes rank 4 only" in err


def test_predict_multilabel_and_multiclass_outputs(zoo_path, lora_folders, tmp_path, capsys, predict_jsonl):
    assert main(["fit", "--zoo", str(zoo_path), "--task", "multilabel", "--target",
                 "positive_functional_0,positive_functional_1", "--model", "dense", "--out", str(tmp_path / "ml"),
                 "--epochs", "1"]) == 0
    assert main(["fit", "--zoo", str(zoo_path), "--task", "multiclass", "--target", "dominant_module",
                 "--model", "svd", "--out", str(tmp_path / "mc"), "--epochs", "1"]) == 0
    capsys.readouterr()  # the fits' summaries
    _, [line], _ = predict_jsonl("--model", tmp_path / "ml", lora_folders[0])
    assert set(line["prediction"]) == {"positive_functional_0", "positive_functional_1"}
    assert all(0 <= p <= 1 for p in line["prediction"].values())
    _, [line], _ = predict_jsonl("--model", tmp_path / "mc", lora_folders[0])
    assert line["prediction"]["class"] in (0, 1, 2)
    assert set(line["prediction"]["probabilities"]) == {"0", "1", "2"}
    assert sum(line["prediction"]["probabilities"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("args, message", [
    (["--target", "nope"], "no columns ['nope']"),
    (["--target", "nope_*"], "no column matches 'nope_*'"),
    (["--target", "frob_norm_total", "--hparam", "widths=3"], "unknown hyperparameter(s) ['widths']"),
    (["--target", "frob_norm_total", "--hparam", "lr=3"], "use --lr"),
    (["--target", "frob_norm_total", "--split", "0.9,0.1"], "one value each"),
])
def test_fit_errors_are_one_line(zoo_path, tmp_path, capsys, args, message):
    code = main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--model", "svd",
                 "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_preset_then_flags(zoo_path, tmp_path):
    assert main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--target", "nuclear_norm", "--model", "svd",
                 "--out", str(tmp_path / "run"), "--preset", "clip-score", "--epochs", "1",
                 "--split", "0.6,0.2,0.2"]) == 0
    settings = json.loads((tmp_path / "run" / "metrics.json").read_text())["settings"]
    assert (settings["lr"], settings["weight_decay"], settings["batch_size"]) == (1e-3, 0.0, 8)  # the preset
    assert settings["epochs"] == 1 and settings["split"] == [0.6, 0.2, 0.2] and settings["preset"] == "clip-score"


def test_target_patterns_expand_to_the_zoos_columns_in_file_order(zoo_path, tmp_path):
    assert main(["fit", "--zoo", str(zoo_path), "--task", "multilabel", "--target", "positive_functional_*",
                 "--model", "svd", "--out", str(tmp_path / "run"), "--epochs", "1"]) == 0
    settings = json.loads((tmp_path / "run" / "metrics.json").read_text())["settings"]
    assert settings["targets"] == [f"positive_functional_{k}" for k in range(3)]
