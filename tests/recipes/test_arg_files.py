"""Argument files: named after their content, written once, read by every verb as @FILE."""

import pytest

from lolzoo.cli import main
from lolzoo.recipes import plan
from lolzoo.recipes.arg_files import write_arg_file
from lolzoo.recipes.job import make_job, parse_job, write_job_file
from tests.recipes.test_plan import world


def test_the_path_changes_exactly_when_the_content_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths are relative to the working directory, as Snakemake's
    first = write_arg_file(["results/lol/a", "results/lol/b"], "results/jobs/z", "fits")
    assert first.startswith("results/jobs/z/fits-") and first.endswith(".args")
    assert (tmp_path / first).read_text() == "results/lol/a\nresults/lol/b\n"
    assert write_arg_file(["results/lol/a", "results/lol/b"], "results/jobs/z", "fits") == first
    assert write_arg_file(["results/lol/b", "results/lol/a"], "results/jobs/z", "fits") != first
    assert write_arg_file([], "results/jobs/z", "fits") != first  # an empty list is an empty file


def test_a_written_file_is_left_as_it_is(tmp_path):
    path = tmp_path / write_arg_file(["x"], tmp_path / "jobs", "one")
    stamp = path.stat().st_mtime_ns
    write_arg_file(["x"], tmp_path / "jobs", "one")
    assert path.stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == [path.name]  # no temporary left behind


def test_an_argument_holds_no_line_break(tmp_path):
    with pytest.raises(ValueError, match="one argument per line"):
        write_arg_file(["a\nb"], tmp_path, "bad")


def test_a_job_file_is_one_line_of_json_the_reader_reads(tmp_path):
    config = world()
    recipes = list(plan.recipes_by_id(config)["celeba"].values())[:2]
    job = make_job(config["zoos"]["celeba"], recipes, ("evaluation",))
    path = tmp_path / write_job_file(job, tmp_path / "jobs", "celeba-00000-00001")
    text = path.read_text()
    assert path.suffix == ".json" and text.count("\n") == 1
    assert parse_job(text, ("dreambooth-subject",), "diffusion") == job
    # a change of the job is a new file beside the old one
    job["zoo"]["evaluation"]["steps"] += 1
    assert tmp_path / write_job_file(job, tmp_path / "jobs", "celeba-00000-00001") != path


def test_verbs_read_at_file_arguments(tmp_path, capsys):
    """`--config-json @FILE` reads the JSON from FILE; `lolzoo VERB @FILE` reads a list."""
    config = world()
    spec = write_arg_file([plan.zoo_spec_text(config, "synthetic")], tmp_path, "spec", ".json")
    assert main(["recipes", "--config-json", f"@{spec}", "--zoo", "synthetic"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("zoo,lora_id") and len(rows) == 1 + config["zoos"]["synthetic"]["count"]
    # every word of a file is one argument, options included
    words = write_arg_file(["--config-json", plan.zoo_spec_text(config, "arc"), "--zoo", "arc"], tmp_path, "words")
    assert main(["recipes", f"@{words}"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + config["zoos"]["arc"]["count"]



def test_a_missing_argument_file_is_a_usage_error_naming_it(tmp_path, capsys):
    """A job file deleted between the DAG and the job (results/jobs/ cleaned by hand): one line, exit 2."""
    missing = tmp_path / "jobs" / "gone.json"
    with pytest.raises(SystemExit) as stop:
        main(["finetune-data", "--job", f"@{missing}", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    assert f"No such file or directory: '{missing}'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
