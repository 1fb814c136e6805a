"""The results document's rule (workflow/rules/report.smk, issue 18): rule all plans it once on
the test world, reading every report table of the world's LoL zoos and their fit-cv folders;
the slow test runs it and reads the document."""

from pathlib import Path

import pytest

from lolzoo.config import load_config
from lolzoo.recipes import plan
from tests.conftest import REPO
from tests.workflow.runner import dry_run_jobs, snakemake

TEST_WORLD = ("--configfile", str(REPO / "config/test.yaml"))


def test_the_plan_lists_each_zoos_tables_as_the_config_makes_them():
    config = load_config(REPO / "config/test.yaml", REPO)
    assert plan.lol_zoos(config) == ["synthetic", "celeba", "arc"]
    report = "results/report"
    # synthetic: not evaluated (no reliability, no speed-up), a rank task
    assert plan.results_doc_tables(config, "synthetic") == [
        f"{report}/synthetic/{name}" for name in
        ("comparison.csv", "comparison.md", "tuning.md", "learning_curves.csv", "ranks.csv")]
    # celeba: evaluated, transferred to its sibling
    assert plan.results_doc_tables(config, "celeba") == [
        f"{report}/celeba/{name}" for name in
        ("comparison.csv", "comparison.md", "tuning.md", "reliability.md", "learning_curves.csv", "speedup.csv",
         "transfer.csv", "transfer.md")]
    assert plan.results_doc_fits(config) == [d for zoo in plan.lol_zoos(config) for d in plan.compared_dirs(config, zoo)]
    assert plan.results_doc_zoos(config) == [f"{zoo}={report}/{zoo}" for zoo in ("synthetic", "celeba", "arc")]
    assert plan.results_doc_command(config) == "snakemake --cores all --configfile config/test.yaml"
    assert plan.results_doc_command({**config, "world": "default"}) == "snakemake --cores all"
    assert plan.RESULTS_DOC in plan.all_targets(config)


def test_rule_all_plans_the_results_document_once(tmp_path):
    jobs = dry_run_jobs(tmp_path, *TEST_WORLD)
    assert jobs["results_doc"] == 1
    out = snakemake(tmp_path, plan.RESULTS_DOC, "-n", "-p", *TEST_WORLD).stdout
    assert "Job 0: write the results document" in out
    assert "lolzoo results-doc @results/jobs/report/results_doc-" in out
    assert "--world test --command 'snakemake --cores all --configfile config/test.yaml'" in out
    assert "--zoo synthetic=results/report/synthetic celeba=results/report/celeba arc=results/report/arc" in out
    [arg_file] = (tmp_path / "results" / "jobs" / "report").glob("results_doc-*.args")
    config = load_config(REPO / "config/test.yaml", REPO)
    assert arg_file.read_text().split() == plan.results_doc_fits(config)


@pytest.mark.slow
def test_the_test_world_writes_the_results_document(test_world):
    """Reads the test world run once per session (tests/workflow/conftest.py)."""
    text = Path(test_world / plan.RESULTS_DOC).read_text()
    assert text.startswith("# Results of the `test` world")
    assert "## The paper's claims" in text and "## celeba" in text and "## arc" in text
    for zoo in ("synthetic", "celeba", "arc"):
        comparison = (test_world / "results" / "report" / zoo / "comparison.md").read_text()
        assert comparison.strip() in text
    # the test world has a CLIP-score task and a validation-loss task: claims (a) and (c) are decided there
    claim_rows = [line for line in text.splitlines() if line.startswith("| (")]
    assert any("| celeba · CLIP score |" in line for line in claim_rows)
    assert any("| arc · validation loss |" in line for line in claim_rows)
