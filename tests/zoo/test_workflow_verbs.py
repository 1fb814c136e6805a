"""The shard verbs the workflow calls: synthesize-shard, gather-labels, pack --only-labelled."""

import json
import math
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch

from lolzoo.cli import main
from lolzoo.lol.testing import random_gl
from lolzoo.lora import read_lora
from lolzoo.synthetic.generator import invariant_labels
from lolzoo.zoo import load_zoo
from lolzoo.zoo.labels import LabelFileError, gather_labels
from tests.conftest import REPO

JOB = {"recipe": {"lora_id": "syn-00002", "seed": 1234, "rank": 3, "lora_alpha": 6},
       "zoo": {"type": "synthetic", "reparametrise": True, "modules": [["a.q", 6, 5], ["b.v", 4, 7]]}}


def synthesize(tmp_path, lora_id="syn-00002", job=JOB):
    """One LoRA as a shard of one, in its own shard folders under tmp_path/loras and tmp_path/labels."""
    shard_job = {"recipes": [{**job["recipe"], "lora_id": lora_id}], "zoo": job["zoo"]}
    loras, labels = tmp_path / "loras" / f"shard-{lora_id}", tmp_path / "labels" / f"shard-{lora_id}"
    assert main(["synthesize-shard", "--job", json.dumps(shard_job), "--out", str(loras), "--labels", str(labels)]) == 0
    return loras / lora_id, labels / f"{lora_id}.json"


def test_a_synthetic_shard_equals_its_loras_made_alone(tmp_path):
    recipes = [{**JOB["recipe"], "lora_id": f"syn-{i:05d}", "seed": i} for i in range(3)]
    shard_job = {"recipes": recipes, "zoo": JOB["zoo"]}
    assert main(["synthesize-shard", "--job", json.dumps(shard_job), "--out", str(tmp_path / "shard"),
                 "--labels", str(tmp_path / "shard-labels")]) == 0
    assert sorted(p.name for p in (tmp_path / "shard").iterdir()) == [r["lora_id"] for r in recipes]
    for recipe in recipes:
        alone, labels = synthesize(tmp_path / "alone", recipe["lora_id"], {**JOB, "recipe": recipe})
        in_shard = tmp_path / "shard" / recipe["lora_id"] / "adapter_model.safetensors"
        assert in_shard.read_bytes() == (alone / "adapter_model.safetensors").read_bytes()
        assert json.loads((tmp_path / "shard-labels" / f"{recipe['lora_id']}.json").read_text()) == \
            json.loads(labels.read_text())


def test_synthesize_writes_a_peft_lora_and_its_invariant_labels(tmp_path):
    out, labels_path = synthesize(tmp_path)
    lora = read_lora(out)
    assert [m.path for m in lora.modules] == ["a.q", "b.v"]
    assert [tuple(m.U.shape) + tuple(m.V.shape) for m in lora.modules] == [(6, 3, 5, 3), (4, 3, 7, 3)]
    assert all(m.alpha == 6 for m in lora.modules)
    labels = json.loads(labels_path.read_text())
    assert labels == pytest.approx(invariant_labels(lora))
    # the labels belong to ΔW: a re-parametrised copy has the same ones
    g = random_gl(3, cond=math.e, generator=torch.Generator().manual_seed(0)).float()
    assert invariant_labels(lora.transformed(g)) == pytest.approx(labels, rel=1e-4)
    # same job, same bytes
    again, _ = synthesize(tmp_path / "again")
    assert (again / "adapter_model.safetensors").read_bytes() == (out / "adapter_model.safetensors").read_bytes()


def test_synthesize_refuses_a_job_that_is_not_synthetic(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lolzoo", "synthesize-shard", "--job", '{"recipes": [{}]}',
                             "--out", str(tmp_path / "x"), "--labels", str(tmp_path / "x-labels")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "not a synthetic shard job" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x-labels").exists()


def test_gather_labels_and_pack_only_the_labelled(tmp_path):
    for i in range(3):
        synthesize(tmp_path, f"syn-{i:05d}", {**JOB, "recipe": {**JOB["recipe"], "seed": i}})
    csv = tmp_path / "labels.csv"
    # a leftover LoRA of a bigger, older zoo sits in the folder but is not labelled
    label_folders = sorted((tmp_path / "labels").iterdir())[:2]  # gather-labels takes shard folders
    assert main(["gather-labels", *map(str, label_folders), "--out", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert list(table["lora_id"]) == ["syn-00000", "syn-00001"] and table.columns[0] == "lora_id"
    out = tmp_path / "zoo.parquet"
    shards = [str(p) for p in sorted((tmp_path / "loras").iterdir())]
    (tmp_path / "loras" / "shard-syn-00000" / "shard.json").write_text("{}")  # not a LoRA: skipped
    assert main(["pack", "--loras", *shards, "--labels", str(csv), "--only-labelled",
                 "--zoo", "syn", "--out", str(out)]) == 0
    zoo = load_zoo(out)
    assert list(zoo.lora_ids) == ["syn-00000", "syn-00001"]
    assert zoo.table["frob_norm_total"].tolist() == pytest.approx(table["frob_norm_total"].tolist())
    # without --only-labelled, the unlabelled leftover is an error naming it
    assert main(["pack", "--loras", *shards, "--labels", str(csv), "--out", str(out)]) == 2
    # the same LoRA in two shard folders is refused, naming both
    twin = tmp_path / "loras" / "twin"
    shutil.copytree(tmp_path / "loras" / "shard-syn-00000", twin)
    assert main(["pack", "--loras", *shards, str(twin), "--labels", str(csv), "--only-labelled",
                 "--out", str(tmp_path / "twin.parquet")]) == 2


def test_only_labelled_names_missing_loras(tmp_path, capsys):
    synthesize(tmp_path, "syn-00000")
    csv = tmp_path / "labels.csv"
    csv.write_text("lora_id,x\nsyn-00000,1\nsyn-00009,2\n")
    assert main(["pack", "--loras", str(tmp_path / "loras" / "shard-syn-00000"), "--labels", str(csv),
                 "--only-labelled", "--out", str(tmp_path / "z.parquet")]) == 2
    assert "syn-00009" in capsys.readouterr().err
    assert not (tmp_path / "z.parquet").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON label file"),
    ("[1, 2]", "holds one JSON object"),
    ('{"a": {"nested": 1}}', r"\['a'\] are not"),
    ('{"lora_id": "other", "a": 1}', "names lora_id 'other'"),
])
def test_bad_label_files_are_named(tmp_path, content, message):
    path = tmp_path / "syn-00000.json"
    path.write_text(content)
    with pytest.raises(LabelFileError, match=message):
        gather_labels([path])


def test_labels_may_repeat_a_recipe_column_only_when_they_agree(tmp_path):
    synthesize(tmp_path, "syn-00000")
    synthesize(tmp_path, "syn-00001", {**JOB, "recipe": {**JOB["recipe"], "seed": 7}})
    recipes = tmp_path / "recipes.csv"
    recipes.write_text("lora_id,subject\nsyn-00000,3\nsyn-00001,4\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("lora_id,subject,score\nsyn-00000,3,0.5\nsyn-00001,4,0.7\n")
    out = tmp_path / "zoo.parquet"
    args = ["pack", "--loras", *map(str, sorted((tmp_path / "loras").iterdir())), "--labels", str(labels), "--recipes", str(recipes),
            "--zoo", "syn", "--out", str(out)]
    assert main(args) == 0
    table = load_zoo(out).table
    assert table["subject"].tolist() == [3, 4] and table["score"].tolist() == [0.5, 0.7]
    assert list(table.columns).count("subject") == 1
    labels.write_text("lora_id,subject,score\nsyn-00000,3,0.5\nsyn-00001,9,0.7\n")
    out.unlink()
    assert main(args) == 2  # they disagree for syn-00001: refused, nothing written
    assert not out.exists()
