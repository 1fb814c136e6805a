"""finetune-language and evaluate-language as the workflow calls them: a shard's adapters are
PEFT folders that equal the same LoRAs trained alone, and its labels say what each LoRA saw."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from lolzoo.cli import main

ZOO = {"type": "arc-sources", "lora": {"rank": 2, "alpha": 4, "target_modules": ["k_proj", "v_proj"]},
       "sources": {"droppable": ["MCAS", "TIMSS"]}, "max_length": 128, "micro_batch_size": 4,
       "evaluation": {"max_questions": 6, "batch_size": 4}}


def recipe(number: int, dropped: str = "", **overrides) -> dict:
    row = {"lora_id": f"arc-{number:05d}", "seed": 100 + number, "learning_rate": 1e-2, "weight_decay": 1e-3,
           "num_epochs": 1, "batch_size": 8, "lora_dropout": 0.05, "dropped_sources": dropped}
    row.update(overrides)
    return row


def job(*recipes) -> str:
    return json.dumps({"zoo": ZOO, "recipes": list(recipes)})


def finetune(world, out, *recipes) -> int:
    return main(["finetune-language", "--job", job(*recipes), "--base", str(world / "base"),
                 "--data", str(world / "arc"), "--out", str(out)])


def test_a_shard_writes_peft_folders_equal_to_each_lora_trained_alone(world, tmp_path):
    shard = [recipe(0), recipe(1, dropped="MCAS"), recipe(2, dropped="MCAS|TIMSS", batch_size=5)]
    assert finetune(world, tmp_path / "shard", *shard) == 0
    assert finetune(world, tmp_path / "alone", shard[1]) == 0
    for row in shard:
        folder = tmp_path / "shard" / row["lora_id"]
        assert {"adapter_model.safetensors", "adapter_config.json", "train.json"} <= {p.name for p in folder.iterdir()}
        config = json.loads((folder / "adapter_config.json").read_text())
        assert config["r"] == 2 and config["lora_alpha"] == 4 and sorted(config["target_modules"]) == ["k_proj", "v_proj"]
    together = load_file(tmp_path / "shard" / "arc-00001" / "adapter_model.safetensors")
    alone = load_file(tmp_path / "alone" / "arc-00001" / "adapter_model.safetensors")
    assert together.keys() == alone.keys() and len(together) == 2 * 2 * 2
    for key in together:
        assert torch.equal(together[key], alone[key]), key
    records = [json.loads((tmp_path / "shard" / r["lora_id"] / "train.json").read_text()) for r in shard]
    # make_questions cycles Mercury, MCAS, TIMSS over the 30 training questions
    assert [r["questions"] for r in records] == [30, 20, 10]
    assert records[2]["sources"] == {"Mercury": 10}
    assert [r["steps"] for r in records] == [4, 3, 2]
    assert json.loads((tmp_path / "shard" / "shard.json").read_text())["loras"] == 3


def test_labels_name_each_lora_s_sources_and_scores(world, tmp_path):
    shard = [recipe(0), recipe(1, dropped="TIMSS")]
    assert finetune(world, tmp_path / "loras", *shard) == 0
    assert main(["evaluate-language", "--job", job(*shard), "--base", str(world / "base"), "--data",
                 str(world / "arc"), "--loras", str(tmp_path / "loras"), "--out", str(tmp_path / "labels")]) == 0
    first = json.loads((tmp_path / "labels" / "arc-00000.json").read_text())
    second = json.loads((tmp_path / "labels" / "arc-00001.json").read_text())
    assert (first["has_MCAS"], first["has_TIMSS"], second["has_MCAS"], second["has_TIMSS"]) == (1, 1, 1, 0)
    assert first["train_questions"] == 30 and second["train_questions"] == 20
    for labels in (first, second):
        assert labels["val_loss"] > 0
        assert labels["arc_c_accuracy"] * 6 == pytest.approx(round(labels["arc_c_accuracy"] * 6))  # 6 questions
        assert 0 <= labels["arc_c_accuracy_norm"] <= 1
    assert main(["evaluate-language", "--job", json.dumps({"zoo": ZOO, "recipes": []}), "--base",
                 str(world / "base"), "--data", str(world / "arc"), "--out", str(tmp_path / "base.json")]) == 0
    base = json.loads((tmp_path / "base.json").read_text())
    assert base["chance"] == 0.25 and base["test_questions"] == 6 and base["validation_questions"] == 4
    assert base["val_loss"] != first["val_loss"]  # the LoRA changed the model


def test_the_adapters_read_as_loras_for_packing(world, tmp_path):
    from lolzoo.lora import read_lora

    assert finetune(world, tmp_path / "loras", recipe(0)) == 0
    lora = read_lora(tmp_path / "loras" / "arc-00000")
    assert len(lora.modules) == 4  # 2 layers × (k_proj, v_proj)
    assert {m.rank for m in lora.modules} == {2}


def test_a_dora_shard_trains_reads_and_evaluates_as_dora(world, tmp_path, monkeypatch):
    from lolzoo.lora import read_lora

    monkeypatch.setitem(ZOO, "lora", {**ZOO["lora"], "dora": True})
    assert finetune(world, tmp_path / "loras", recipe(0)) == 0
    folder = tmp_path / "loras" / "arc-00000"
    assert json.loads((folder / "adapter_config.json").read_text())["use_dora"] is True
    lora = read_lora(folder)
    assert lora.is_dora and all(m.magnitude.shape == (m.out_features,) for m in lora.modules)
    assert main(["evaluate-language", "--job", job(recipe(0)), "--base", str(world / "base"), "--data",
                 str(world / "arc"), "--loras", str(tmp_path / "loras"), "--out", str(tmp_path / "labels")]) == 0
    assert json.loads((tmp_path / "labels" / "arc-00000.json").read_text())["val_loss"] > 0


def test_a_dora_flag_that_is_not_a_boolean_is_a_job_error(world, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(ZOO, "lora", {**ZOO["lora"], "dora": "false"})
    assert finetune(world, tmp_path / "loras", recipe(0)) == 2
    assert "zoo.lora.dora = 'false' is not true or false" in capsys.readouterr().err
    assert not (tmp_path / "loras").exists()


def test_missing_data_and_missing_loras_are_clear_errors(world, tmp_path, capsys):
    assert main(["finetune-language", "--job", job(recipe(0)), "--base", str(world / "base"),
                 "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "train.jsonl: missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["evaluate-language", "--job", job(recipe(0)), "--base", str(world / "base"), "--data",
                 str(world / "arc"), "--loras", str(tmp_path), "--out", str(tmp_path / "labels")]) == 2
    assert "no finetuned LoRA arc-00000" in capsys.readouterr().err
    (tmp_path / "broken" / "arc-00000").mkdir(parents=True)
    (tmp_path / "broken" / "arc-00000" / "train.json").write_text("{not json")
    assert main(["evaluate-language", "--job", job(recipe(0)), "--base", str(world / "base"), "--data",
                 str(world / "arc"), "--loras", str(tmp_path / "broken"), "--out", str(tmp_path / "labels")]) == 2
    assert "not a finetuning record" in capsys.readouterr().err
    assert not (tmp_path / "labels").exists()


def test_max_train_questions_samples_with_the_recipe_seed(world, tmp_path):
    limited = json.dumps({"zoo": {**ZOO, "max_train_questions": 7}, "recipes": [recipe(0), recipe(1, dropped="MCAS")]})
    alone = json.dumps({"zoo": {**ZOO, "max_train_questions": 7}, "recipes": [recipe(1, dropped="MCAS")]})
    for text, out in ((limited, "shard"), (alone, "alone")):
        assert main(["finetune-language", "--job", text, "--base", str(world / "base"), "--data", str(world / "arc"),
                     "--out", str(tmp_path / out)]) == 0
    records = [json.loads((tmp_path / "shard" / f"arc-0000{i}" / "train.json").read_text()) for i in (0, 1)]
    assert [r["questions"] for r in records] == [7, 7] and "MCAS" not in records[1]["sources"]
    assert records[0]["sources"] != records[1]["sources"] or records[0]["losses"] != records[1]["losses"]
    again = json.loads((tmp_path / "alone" / "arc-00001" / "train.json").read_text())
    assert again["sources"] == records[1]["sources"] and again["losses"] == records[1]["losses"]



def test_a_job_killed_mid_write_leaves_nothing_complete_and_its_rerun_is_byte_identical(world, tmp_path):
    """SIGKILL once the first adapter is on disk (inside the staging folder): --out must not
    exist; the rerun sweeps the staging folder and writes the same bytes as a run never killed."""
    shard = [recipe(k, num_epochs=3, batch_size=4) for k in range(6)]
    out = tmp_path / "killed" / "arc-00000-00005"
    command = [sys.executable, "-m", "lolzoo", "finetune-language", "--job", job(*shard), "--base", str(world / "base"),
               "--data", str(world / "arc"), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".*.tmp/*/adapter_model.safetensors")):
        assert process.poll() is None, "the job ended before it could be killed: give it more to do"
        assert time.monotonic() < deadline, "no adapter was written within 120 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] and all(p.name.startswith(".") for p in out.parent.iterdir())

    assert finetune(world, out, *shard) == 0  # the rerun
    assert finetune(world, tmp_path / "uninterrupted", *shard) == 0
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # the killed run's staging is gone
    for row in shard:
        rerun, clean = out / row["lora_id"], tmp_path / "uninterrupted" / row["lora_id"]
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            assert (rerun / name).read_bytes() == (clean / name).read_bytes()
        rerun_log, clean_log = (json.loads((folder / "train.json").read_text()) for folder in (rerun, clean))
        del rerun_log["seconds"], clean_log["seconds"]  # the only thing that may differ: timings
        assert rerun_log == clean_log
