"""The reliability rules (workflow/rules/reliability.smk, issue 18) on the test world: the dry run
plans one re-measurement job per shard holding sampled LoRAs and one table per evaluated zoo
with LoL tasks; the slow test runs them and reads the tables."""

import json
from pathlib import Path

import pytest
import yaml

from lolzoo.config import load_config
from lolzoo.recipes import plan
from tests.conftest import REPO
from tests.workflow.runner import dry_run_jobs, snakemake

TEST_WORLD = ("--configfile", str(REPO / "config/test.yaml"))
TARGETS = ("results/report/celeba/reliability.json", "results/report/arc/reliability.json")


def test_rule_all_plans_the_remeasurement_per_sampled_shard_and_a_table_per_zoo(tmp_path):
    jobs = dry_run_jobs(tmp_path, *TEST_WORLD)
    config = load_config(REPO / "config/test.yaml", REPO)
    assert jobs["retest_diffusion"] == len(plan.reliability_shards(config, "celeba")) == 2
    assert jobs["retest_language"] == len(plan.reliability_shards(config, "arc")) == 2
    assert jobs["reliability"] == 2  # celeba and arc; imagenette has no LoL task, synthetic is not evaluated
    # each re-measurement job holds exactly its shard's sampled LoRAs, under the zoo's evaluation settings
    for zoo in ("celeba", "arc"):
        for shard, ids in plan.reliability_shards(config, zoo).items():
            [job_file] = (tmp_path / "results" / "jobs" / zoo / "retest").glob(f"{shard}-*.json")
            job = json.loads(job_file.read_text())
            assert [row["lora_id"] for row in job["recipes"]] == ids
            assert job["zoo"]["evaluation"] == config["zoos"][zoo]["evaluation"]


def test_the_reliability_targets_alone_skip_the_lol_fits(tmp_path):
    jobs = dry_run_jobs(tmp_path, *TEST_WORLD, targets=TARGETS)
    assert jobs["reliability"] == 2 and "fit_lol" not in jobs and "evaluate_diffusion" in jobs
    out = snakemake(tmp_path, *TARGETS, "-n", "-p", *TEST_WORLD).stdout
    assert "evaluate-diffusion --job @results/jobs/celeba/retest/" in out and "--seed 43" in out
    assert "evaluate-language --job @results/jobs/arc/retest/" in out and "--halves" in out
    assert "lolzoo reliability --zoo results/zoos/celeba.parquet --retest @results/jobs/celeba/retest-" in out


@pytest.mark.slow
def test_the_test_world_writes_a_reliability_table_per_zoo(test_world):
    """Reads the test world run once per session (tests/workflow/conftest.py)."""
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    for zoo, measured in (("celeba", ["clip_score"]), ("arc", ["val_loss", "arc_c_accuracy", "arc_c_accuracy_norm"])):
        report = json.loads((test_world / "results" / "report" / zoo / "reliability.json").read_text())
        assert report["zoo"] == zoo and report["sample"] == config["reliability"]["min_loras"]
        assert report["seeds"] == ({"first": 42, "second": 43} if zoo == "celeba" else None)
        assert list(report["labels"]) and set(measured) <= set(report["labels"])
        for label in measured:  # tiny models: a constant label is unmeasured, with its reason
            assert report["labels"][label]["status"] in ("measured", "unmeasured")
        for name in ("csv", "md", "html"):
            assert Path(test_world / "results" / "report" / zoo / f"reliability.{name}").stat().st_size > 0
    retest = json.loads(next((test_world / "results" / "arc" / "retest").glob("*/arc-*.json")).read_text())
    assert {"val_loss_even", "val_loss_odd", "arc_c_accuracy_even", "arc_c_accuracy_odd"} <= set(retest)
