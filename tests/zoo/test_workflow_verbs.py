"""The per-LoRA verbs the workflow calls: synthesize, gather-labels, pack --only-labelled."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from lolzoo.cli import main
from lolzoo.lora import read_lora
from lolzoo.zoo import load_zoo
from lolzoo.zoo.labels import LabelFileError, gather_labels
from lolzoo.zoo.synthetic import invariant_labels, random_well_conditioned_gl
from tests.conftest import REPO

JOB = {"recipe": {"lora_id": "syn-00002", "seed": 1234, "rank": 3, "lora_alpha": 6},
       "zoo": {"type": "synthetic", "reparametrise": True, "modules": [["a.q", 6, 5], ["b.v", 4, 7]]}}


def synthesize(tmp_path, lora_id="syn-00002", job=JOB):
    out, labels = tmp_path / "loras" / lora_id, tmp_path / "labels" / f"{lora_id}.json"
    assert main(["synthesize", "--job", json.dumps(job), "--out", str(out), "--labels", str(labels)]) == 0
    return out, labels


def test_synthesize_writes_a_peft_lora_and_its_invariant_labels(tmp_path):
    out, labels_path = synthesize(tmp_path)
    lora = read_lora(out)
    assert [m.path for m in lora.modules] == ["a.q", "b.v"]
    assert [tuple(m.U.shape) + tuple(m.V.shape) for m in lora.modules] == [(6, 3, 5, 3), (4, 3, 7, 3)]
    assert all(m.alpha == 6 for m in lora.modules)
    labels = json.loads(labels_path.read_text())
    assert labels == pytest.approx(invariant_labels(lora))
    # the labels belong to ΔW: a re-parametrised copy has the same ones
    g = torch.from_numpy(random_well_conditioned_gl(3, __import__("numpy").random.default_rng(0))).float()
    assert invariant_labels(lora.transformed(g)) == pytest.approx(labels, rel=1e-4)
    # same job, same bytes
    again, _ = synthesize(tmp_path / "again")
    assert (again / "adapter_model.safetensors").read_bytes() == (out / "adapter_model.safetensors").read_bytes()


def test_synthesize_refuses_a_job_that_is_not_synthetic(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lolzoo", "synthesize", "--job", '{"recipe": {}}',
                             "--out", str(tmp_path / "x"), "--labels", str(tmp_path / "x.json")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "not a synthetic LoRA job" in result.stderr
    assert not (tmp_path / "x").exists()


def test_gather_labels_and_pack_only_the_labelled(tmp_path):
    for i in range(3):
        synthesize(tmp_path, f"syn-{i:05d}", {**JOB, "recipe": {**JOB["recipe"], "seed": i}})
    csv = tmp_path / "labels.csv"
    # a leftover LoRA of a bigger, older zoo sits in the folder but is not labelled
    files = sorted((tmp_path / "labels").glob("*.json"))[:2]
    assert main(["gather-labels", *map(str, files), "--out", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert list(table["lora_id"]) == ["syn-00000", "syn-00001"] and table.columns[0] == "lora_id"
    out = tmp_path / "zoo.parquet"
    assert main(["pack", "--loras", str(tmp_path / "loras"), "--labels", str(csv), "--only-labelled",
                 "--zoo", "syn", "--out", str(out)]) == 0
    zoo = load_zoo(out)
    assert list(zoo.lora_ids) == ["syn-00000", "syn-00001"]
    assert zoo.table["frob_norm_total"].tolist() == pytest.approx(table["frob_norm_total"].tolist())
    # without --only-labelled, the unlabelled leftover is an error naming it
    assert main(["pack", "--loras", str(tmp_path / "loras"), "--labels", str(csv), "--out", str(out)]) == 2


def test_only_labelled_names_missing_loras(tmp_path, capsys):
    synthesize(tmp_path, "syn-00000")
    csv = tmp_path / "labels.csv"
    csv.write_text("lora_id,x\nsyn-00000,1\nsyn-00009,2\n")
    assert main(["pack", "--loras", str(tmp_path / "loras"), "--labels", str(csv), "--only-labelled",
                 "--out", str(tmp_path / "z.parquet")]) == 2
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
    args = ["pack", "--loras", str(tmp_path / "loras"), "--labels", str(labels), "--recipes", str(recipes),
            "--zoo", "syn", "--out", str(out)]
    assert main(args) == 0
    table = load_zoo(out).table
    assert table["subject"].tolist() == [3, 4] and table["score"].tolist() == [0.5, 0.7]
    assert list(table.columns).count("subject") == 1
    labels.write_text("lora_id,subject,score\nsyn-00000,3,0.5\nsyn-00001,9,0.7\n")
    out.unlink()
    assert main(args) == 2  # they disagree for syn-00001: refused, nothing written
    assert not out.exists()
