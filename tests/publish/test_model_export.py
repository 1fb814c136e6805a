"""`lolzoo export-model` on a small synthetic zoo and a brief `lolzoo fit-cv`: the exported folder
scores LoRAs through `lolzoo predict` exactly as its fit folder does, and its card states the
numbers the report's own functions give (intervals, baseline, ceiling); bad inputs are one-line
errors that write nothing."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from lolzoo.cli import main
from lolzoo.lora import write_peft
from lolzoo.publish import model_export
from lolzoo.publish.model_card import ceiling_text
from lolzoo.report.compare import Group
from lolzoo.report.comparison_table import cell_text, interval_table
from lolzoo.report.cv_scores import read_scores
from lolzoo.synthetic.generator import synthetic_lora
from tests.small_zoo import fit_small, small_zoo_spec, write_small_zoo

COUNT = 60
TARGET = "frob_norm_total"
QUICK = ("--epochs", "2", "--hparam", "hidden=[8]")  # brief: the export does not depend on training well


@pytest.fixture(scope="module")
def zoo_path(tmp_path_factory):
    return write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", COUNT)


@pytest.fixture(scope="module")
def cv_dir(zoo_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("fits") / "glnet"
    assert main(["fit-cv", "--zoo", str(zoo_path), "--task", "regression", "--target", TARGET, "--model", "glnet",
                 "--folds", "2", "--seeds", "0,1", *QUICK, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exported(cv_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("published") / "synthetic-glnet"
    assert main(["export-model", str(cv_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    return write_peft(synthetic_lora(small_zoo_spec(COUNT), 3), tmp_path_factory.mktemp("lora") / "lora")


@pytest.fixture
def cli(capsys):
    """`lolzoo ARGS...` in process: (exit code, stdout, stderr)."""
    def run(*args) -> tuple[int, str, str]:
        code = main([*map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def card_parts(folder):
    """(front matter as parsed YAML, the card's body)."""
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body  # parsed here with yaml itself, not with the code that wrote it


def test_exported_model_scores_as_its_fit_folder(exported, cv_dir, lora, cli):
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "model.json", "model.safetensors"]
    for name in ("model.json", "model.safetensors"):  # fold 0's lowest seed, byte for byte
        assert (exported / name).read_bytes() == (cv_dir / "fold0" / "seed0" / name).read_bytes()
    code, out, err = cli("predict", "--model", exported, lora)
    assert code == 0, err
    original = cli("predict", "--model", cv_dir / "fold0" / "seed0", lora)
    assert json.loads(out)["prediction"] == json.loads(original[1])["prediction"]


def test_card_front_matter_parses_and_names_the_zoo_and_run(exported):
    front, _ = card_parts(exported)
    assert front["library_name"] == "lolzoo" and front["license"] == "mit"
    assert {"lolzoo", "weight-space-learning", "lora", "regression"} <= set(front["tags"])
    block = front["lolzoo"]
    assert front["datasets"] == [block["zoo"]] == ["synthetic"]
    assert block["task"] == "regression" and block["targets"] == [TARGET] and block["model"] == "glnet"
    assert (block["fold"], block["seed"], block["folds"], block["cross_validated"]) == (0, 0, 2, True)
    assert set(block["base"]) == {"name", "sha256"} and "zoo_sha256" in block
    info = json.loads((exported / "model.json").read_text())
    assert block["zoo_sha256"] == info["zoo"].get("sha256")
    assert front["model-index"][0]["results"][0]["metrics"]


def test_card_states_the_reports_intervals_and_baseline(exported, cv_dir):
    _, body = card_parts(exported)
    table = interval_table(read_scores([cv_dir]), {})
    for row in table.itertuples(index=False):  # every model and baseline cell, as `lolzoo compare` has it
        if row.row in ("glnet", "baseline") and row.runs:
            assert cell_text(row._replace(mark=""), 3) in body, (row.row, row.metric)
    assert "4 cross-validated runs" in body and "Nadeau-Bengio" in body
    run = json.loads((cv_dir / "fold0" / "seed0" / "metrics.json").read_text())
    assert f"| {run['metrics']['test']['r2']:.3f} |" in body  # the published run's own test R²
    assert "lolzoo predict --model synthetic-glnet path/to/lora" in body
    assert '"kind": "glnet"' in body and "rank 4" in body and "Putterman" in body
    assert "Noise ceiling: exact" in body  # a synthetic label is computed from the weights: no noise


def test_reliability_adds_the_measured_ceiling(cv_dir, tmp_path, cli):
    numbers = {"ceiling_r2": 0.9, "ceiling_r2_low": 0.85, "ceiling_r2_high": 0.95,
               "ceiling_tau": 0.7, "ceiling_tau_low": 0.6, "ceiling_tau_high": 0.8}
    reliability = tmp_path / "reliability.json"
    reliability.write_text(json.dumps({"zoo": "synthetic", "labels": {
        TARGET: {"status": "measured", "method": "test-retest", **numbers}}}))
    code, _, err = cli("export-model", cv_dir, "--out", tmp_path / "out", "--reliability", reliability)
    assert code == 0, err
    _, body = card_parts(tmp_path / "out")
    assert "0.900 [0.850, 0.950]" in body and "0.700 [0.600, 0.800]" in body and "test-retest" in body
    # a reliability file of another zoo is refused
    reliability.write_text(json.dumps({"zoo": "celeba", "labels": {}}))
    code, _, err = cli("export-model", cv_dir, "--out", tmp_path / "other", "--reliability", reliability)
    assert code == 2 and "zoo celeba" in err and len(err.strip().splitlines()) == 1


def test_without_reliability_a_measured_label_has_no_ceiling():
    empty = pd.DataFrame(columns=["row", "status", "scope"])
    text = ceiling_text(Group("celeba", "regression", ("clip_score",)), empty, None)
    assert "not measured" in text and "--reliability" in text


def test_another_fold_and_seed(cv_dir, tmp_path, cli):
    code, _, err = cli("export-model", cv_dir, "--out", tmp_path / "out", "--fold", 1, "--seed", 1)
    assert code == 0, err
    front, _ = card_parts(tmp_path / "out")
    assert (front["lolzoo"]["fold"], front["lolzoo"]["seed"]) == (1, 1)
    assert (tmp_path / "out" / "model.json").read_bytes() == (cv_dir / "fold1" / "seed1" / "model.json").read_bytes()


def test_a_single_fit_says_it_has_no_interval(zoo_path, tmp_path, lora, cli):
    fit = fit_small(zoo_path, tmp_path / "fit", "svd", *QUICK)
    code, _, err = cli("export-model", fit, "--out", tmp_path / "out")
    assert code == 0, err
    front, body = card_parts(tmp_path / "out")
    assert front["lolzoo"]["cross_validated"] is False
    assert "no cross-validation interval exists" in body and "(one run)" in body
    published, original = (json.loads(cli("predict", "--model", folder, lora)[1]) for folder in (tmp_path / "out", fit))
    assert published["prediction"] == original["prediction"]
    code, _, err = cli("export-model", fit, "--out", tmp_path / "again", "--fold", 0)
    assert code == 2 and "single `lolzoo fit` folder" in err


@pytest.mark.parametrize("flags, message", [
    (["--fold", "5"], "--fold 5: "), (["--seed", "7"], "--seed 7: fold 0 of")])
def test_runs_that_do_not_exist_are_refused(cv_dir, tmp_path, cli, flags, message):
    code, _, err = cli("export-model", cv_dir, "--out", tmp_path / "out", *flags)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_no_fit_is_refused(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("export-model", tmp_path / "empty", "--out", tmp_path / "out")
    assert code == 2 and "not a `lolzoo fit` folder" in err and len(err.strip().splitlines()) == 1


def test_a_damaged_model_is_refused(cv_dir, tmp_path, cli):
    fit = tmp_path / "fit"
    shutil.copytree(cv_dir / "fold0" / "seed0", fit)
    weights = fit / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated
    code, _, err = cli("export-model", fit, "--out", tmp_path / "out")
    assert code == 2 and "model.safetensors" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_copy_that_differs_is_refused(cv_dir, tmp_path, cli, monkeypatch):
    def bad_copy(source, target):  # a copy that loses its last byte
        target.write_bytes(source.read_bytes()[:-1])
    monkeypatch.setattr(model_export.shutil, "copyfile", bad_copy)
    code, _, err = cli("export-model", cv_dir, "--out", tmp_path / "out")
    assert code == 2 and "sha256" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_out_is_replaced_only_with_overwrite(cv_dir, tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = cli("export-model", cv_dir, "--out", out)
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (out / "notes.txt").read_text() == "mine"
    assert cli("export-model", cv_dir, "--out", out, "--overwrite")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "model.json", "model.safetensors"]
    # never into the fit folder itself, which --overwrite would delete
    code, _, err = cli("export-model", cv_dir, "--out", cv_dir / "published", "--overwrite")
    assert code == 2 and "overlaps the fit folder" in err


def test_the_card_describes_labels_from_the_zoo_config_the_model_recorded():
    from types import SimpleNamespace

    from lolzoo.publish.model_card import _meaning

    entry = {"type": "dreambooth-subject", "clip": "clip",
             "evaluation": {"prompts": ["a", "b", "c"], "steps": 5, "sampler": "dpm-solver", "seed": 42}}
    recorded = SimpleNamespace(info={"zoo": {"name": "celeba", "provenance": {"zoo_config": {"zoos": {"celeba": entry}}}}})
    text = _meaning(recorded, "clip_score")
    assert "3 prompts" in text and "dpm-solver with 5 steps" in text and "`clip` CLIP model" in text
    assert "0/1" in _meaning(recorded, "Smiling")
    unrecorded = SimpleNamespace(info={"zoo": {"name": "celeba"}})
    assert _meaning(unrecorded, "clip_score") == "a label of the zoo, described by the zoo's card"
