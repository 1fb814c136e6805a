"""The test world through profiles/slurm on a real one-node Slurm (tests/slurm/local_slurm.sh):
every job runs as a Slurm job of its own, and a failing job is reported as failed.

The Slurm run builds every zoo of the test world and one LoL fit: every rule that needs the
"gpu" partition and every kind of job up to the packed zoos, about 50 jobs. The report rules
after them run the same way and are covered by the local run of the whole world
(tests/workflow/test_snakemake.py); through Slurm they would double CI's time for nothing new.

Needs root (the script installs slurm-wlm and munge and runs their daemons): skipped
without it, except in CI (CI=true), where Slurm not coming up fails the tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.workflow.console import parse_jobs, rules_of

pytestmark = pytest.mark.slow  # runs Snakemake for real: minutes; `pytest -m "not slow"` skips it

SCRIPT = REPO / "tests" / "slurm" / "local_slurm.sh"
IN_CI = os.environ.get("CI") == "true"
# Seconds before a Snakemake run is killed: the targets below take about 10 minutes on a
# busy 2-CPU machine; a hung status loop must not hang CI.
TIMEOUT = 1500
FIT = "results/lol/synthetic/norms/glnet"  # one fit_lol job: the gpu partition's LoL rule
ZOOS = tuple(f"results/zoos/{zoo}.parquet" for zoo in yaml.safe_load((REPO / "config" / "test.yaml").read_text())["zoos"])
# What a one-node Slurm without slurmdbd needs on top of profiles/slurm (whose partitions
# "cpu" and "gpu" the local slurm.conf defines on its one node):
LOCAL_SLURM = (
    "--slurm-status-command", "squeue",  # sacct fails without slurmdbd, and the plugin would wait forever
    "--slurm-init-seconds-before-status-checks", "3",  # first status check after 3 s, not 40
    # more jobs than the node's 2 CPUs: Slurm queues the rest and starts each one as soon as
    # a CPU frees, instead of after Snakemake's next status check (which backs off to minutes)
    "--jobs", "8",
    "--retries", "0",  # a failing job fails once, not twice
    "--slurm-keep-successful-logs",  # each job's Slurm log is evidence of where it ran
)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


def unavailable(reason: str):
    """Skip where Slurm cannot run here; in CI, fail: the Slurm tests must run there."""
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm():
    if sys.platform != "linux" or os.geteuid() != 0:
        unavailable("needs root on Linux: tests/slurm/local_slurm.sh installs slurm-wlm and runs its daemons")
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True)  # whatever did start
        unavailable(f"local Slurm did not come up:\n{started.stdout[-2000:]}{started.stderr[-3000:]}")
    yield
    # jobs of a run that was killed would otherwise outlive slurmd; the cluster is ours
    subprocess.run(["scancel", "--user", "root"], capture_output=True)
    subprocess.run(["bash", str(SCRIPT), "stop"], check=True, capture_output=True)


def snakemake_on_slurm(workdir: Path, *args: str) -> tuple[int, str]:
    """Snakemake through profiles/slurm, killed after TIMEOUT seconds: its exit code and output."""
    command = ["timeout", "-s", "KILL", str(TIMEOUT), sys.executable, "-m", "snakemake",
               "-s", str(REPO / "Snakefile"), "-d", str(workdir),
               "--profile", str(REPO / "profiles" / "slurm"), *LOCAL_SLURM, *args]
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"})
    assert result.returncode != -9 and result.returncode != 137, f"killed after {TIMEOUT} s"
    return result.returncode, result.stdout + result.stderr


def slurm_states(run_id: str) -> dict[int, str]:
    """Slurm's own record of the jobs of one Snakemake run (the plugin names them after it)."""
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T", "--name", run_id],
                         capture_output=True, text=True, check=True).stdout
    return {int(job): state for job, state in (line.split("|") for line in out.split())}


@pytest.fixture(scope="module")
def slurm_world(slurm, tmp_path_factory) -> tuple[Path, str]:
    """The test world's zoos and one fit, run once through Slurm, in a fresh working directory."""
    workdir = tmp_path_factory.mktemp("slurm_world")
    code, out = snakemake_on_slurm(workdir, *ZOOS, FIT, "--configfile", str(REPO / "config" / "test.yaml"))
    assert code == 0, out[-5000:]
    return workdir, out


def test_test_world_runs_end_to_end_on_slurm(slurm_world):
    workdir, out = slurm_world
    for zoo in ZOOS:
        assert (workdir / zoo).stat().st_size > 0
    assert (workdir / FIT / "cv.json").is_file()
    assert "steps (100%) done" in out
    # every rule of the gpu partition ran (profiles/slurm/config.yaml sends them there)
    ran = set(rules_of(parse_jobs(out)))
    assert {"finetune_diffusion", "evaluate_diffusion", "finetune_language", "evaluate_language", "fit_lol"} <= ran


def test_every_job_ran_as_a_slurm_job_of_its_own(slurm_world):
    workdir, out = slurm_world
    finished = {int(job): rule for job, rule in FINISHED.findall(out)}
    submitted = {int(job): (int(slurm_id), Path(log)) for job, slurm_id, log in SUBMITTED.findall(out)}
    # every job but `all`, a target with nothing to run, which Snakemake never submits
    ran = {job for job, rule in finished.items() if rule != "all"}
    assert len(ran) > 30 and set(submitted) == ran
    slurm_ids = {slurm_id for slurm_id, _ in submitted.values()}
    assert len(slurm_ids) == len(ran)
    # Slurm knows each of them as a job of this run, and each completed
    run_id = re.search(r"SLURM run ID: (\S+)", out)[1]
    assert slurm_states(run_id) == dict.fromkeys(slurm_ids, "COMPLETED")
    # each job's log, which slurmd names after the Slurm job id, is that job's own Snakemake run
    logs = {int(p.stem): p for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(logs) == slurm_ids
    for job, (slurm_id, log) in submitted.items():
        assert log == logs[slurm_id]
        text = log.read_text()
        assert finished[job] in rules_of(parse_jobs(text)) and "1 of 1 steps (100%) done" in text


def test_a_failing_job_is_reported_as_failed(slurm, tmp_path):
    # A CelebA copy with the right names and no images: the config validates, and the one job
    # the target needs (a shard's finetuning data) fails inside its Slurm job.
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    for name in ("identity_CelebA.txt", "list_attr_celeba.txt"):
        (root / name).touch()
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["data"]["faces"] = {"kind": "celeba", "root": str(root), "resolution": 32}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    code, out = snakemake_on_slurm(workdir, "results/celeba/data/celeba-00000-00002", "--configfile", str(path))
    assert code != 0
    [(_, slurm_id, log)] = SUBMITTED.findall(out)
    assert f"SLURM-job '{slurm_id}' failed, SLURM status is: 'FAILED'" in out
    assert "Error in rule finetune_data" in out
    assert "subject 0 does not exist" in out  # the job's own log, shown by show-failed-logs
    run_id = re.search(r"SLURM run ID: (\S+)", out)[1]
    assert slurm_states(run_id) == {int(slurm_id): "FAILED"}
    # the failure happened inside the Slurm job, whose log is kept
    assert "Error in rule finetune_data" in Path(log).read_text()
