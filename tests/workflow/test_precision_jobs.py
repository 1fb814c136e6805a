"""A zoo's `precision` reaches the jobs that train and sample in it (a dry run writes their job
files), and a zoo without it gets the job files it had before the key existed."""

import json

import yaml

from tests.conftest import REPO
from tests.workflow.runner import snakemake


def job_files(workdir, zoo, stage) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((workdir / "results/jobs" / zoo / stage).glob("*.json"))]


def test_the_zoos_precision_is_in_its_finetune_and_evaluate_jobs(tmp_path):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config["zoos"]["celeba"]["precision"] = "fp16"
    config["zoos"]["arc"]["precision"] = "bf16"
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = ["results/celeba/labels/celeba-00000-00002", "results/imagenette/loras/imagenette-00000-00002",
               "results/arc/labels/arc-00000-00002"]
    snakemake(tmp_path, "-n", *targets, "--configfile", str(path))
    for zoo, stage, precision in (("celeba", "finetune", "fp16"), ("celeba", "evaluate", "fp16"),
                                  ("arc", "finetune", "bf16"), ("imagenette", "finetune", None)):
        jobs = job_files(tmp_path, zoo, stage)
        assert jobs, (zoo, stage)
        assert {job["zoo"].get("precision") for job in jobs} == {precision}, (zoo, stage)
    # the language evaluation scores in float32 whatever the precision: its job does not change
    assert all("precision" not in job["zoo"] for job in job_files(tmp_path, "arc", "evaluate"))


def test_the_re_measurement_samples_in_the_evaluations_precision():
    from lolzoo.config import validate_config
    from lolzoo.recipes import plan

    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config["zoos"]["celeba"]["precision"] = "fp16"
    validate_config(config, base_dir=REPO)
    assert plan.retest_job(config, "celeba", [])["zoo"]["precision"] == "fp16"
