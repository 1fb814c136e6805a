"""Slurm job arrays (`--slurm-array-jobs`, snakemake-executor-plugin-slurm 2.8.0) on the local
Slurm of tests/slurm/local_slurm.sh, with the test world's four finetuning-data jobs (rule
finetune_data: no inputs, so all four are ready at once and form one array).

What holds is asserted plainly: the jobs of a rule become the tasks of one `sbatch --array`
job, each task runs its own job exactly once, and a failing task makes Snakemake report it and
exit non-zero. What does not hold with the pinned plugin is asserted as it should be, under a
strict xfail naming the upstream issue: when a later plugin fixes it, the test XPASSes, which
fails the run and is the cue to offer array mode in profiles/slurm/config.yaml (docs/slurm.md,
"Job arrays"). Skipped like tests/workflow/test_slurm.py where Slurm cannot run."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.workflow.test_slurm import LOCAL_SLURM, slurm, snakemake_on_slurm  # noqa: F401 (slurm: fixture)

pytestmark = pytest.mark.slow

CONFIG = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
# the test world's finetune_data jobs: celeba's two shards, celeba_sibling's, imagenette's one
SHARDS = {"celeba-00000-00002": "celeba", "celeba-00003-00005": "celeba",
          "celeba_sibling-00000-00002": "celeba_sibling", "imagenette-00000-00005": "imagenette"}
TARGETS = tuple(f"results/{zoo}/data/{shard}" for shard, zoo in SHARDS.items())
# every ready job is handed to the plugin at once: under a --jobs cap 2.8.0 loses jobs (see below)
ARRAYS = ("--slurm-array-jobs", "finetune_data", "--jobs", "unlimited")
ARRAY = re.compile(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)\. "
                   r"The individual task IDs are (\d+)-(\d+)\.")
DATA_JOB = re.compile(r"(?m)^Job (\d+): finetuning data (\S+)$")


def arrays(out: str) -> dict[str, str]:
    """Slurm task id ('<array>_<index>') -> the shard whose finetuning data that task made."""
    shard_of = {int(job): shard for job, shard in DATA_JOB.findall(out)}
    tasks = {}
    for jobs, slurm_id, first, last in ARRAY.findall(out):
        jobs = [int(job) for job in jobs.split(",")]
        assert len(jobs) == int(last) - int(first) + 1
        tasks.update({f"{slurm_id}_{int(first) + i}": shard_of[job] for i, job in enumerate(jobs)})
    return tasks


def jobs_run_in(log: Path) -> list[str]:
    """The shards whose shell command a task's Slurm log shows being run. Each task nests
    Snakemake runs (the array's job step, then the task's own job step); only the innermost, the
    one that says `Provided cores`, runs the rule's shell command."""
    return [DATA_JOB.search(block)[2] for block in log.read_text().split("Provided cores:")[1:]]


def task_log(workdir: Path, task: str) -> Path:
    # where slurmd writes it: sbatch --output=rule_<rule>/%A_%a.log
    return workdir / ".snakemake" / "slurm_logs" / "rule_finetune_data" / f"{task}.log"


def run_id(out: str) -> str:
    return re.search(r"SLURM run ID: (\S+)", out)[1]


def slurm_states(out: str) -> dict[str, str]:
    """Slurm's record of a run's jobs, by job id as text: an array task is '<array>_<index>'
    (test_slurm.slurm_states's int() would read '396_1' as 3961)."""
    listed = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T", "--name", run_id(out)],
                            capture_output=True, text=True, check=True).stdout
    return dict(line.split("|") for line in listed.split())


def test_each_job_of_an_array_runs_once_as_its_own_task(slurm, tmp_path):
    workdir = tmp_path / "work"
    code, out = snakemake_on_slurm(workdir, *TARGETS, "--configfile", str(REPO / "config" / "test.yaml"), *ARRAYS)
    assert code == 0, out[-5000:]
    tasks = arrays(out)
    # one sbatch --array job, one task per job, every job in it
    assert len({task.split("_")[0] for task in tasks}) == 1
    assert sorted(tasks.values()) == sorted(SHARDS)
    assert "has been submitted with SLURM jobid" not in out  # nothing went as a plain job
    # Slurm ran each task, and each task ran its own job's shell command, once
    assert slurm_states(out) == dict.fromkeys(tasks, "COMPLETED")
    for task, shard in tasks.items():
        assert jobs_run_in(task_log(workdir, task)) == [shard], task
    for target in TARGETS:
        assert any((workdir / target).iterdir())


@pytest.fixture(scope="module")
def failing_array(slurm, tmp_path_factory) -> tuple[Path, int, str, dict[str, str]]:
    """The four jobs as one array, with faces read from a CelebA folder that has the right names
    and no images: the three face shards fail inside their tasks, imagenette's (digits) works."""
    tmp = tmp_path_factory.mktemp("failing_array")
    root = tmp / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    for name in ("identity_CelebA.txt", "list_attr_celeba.txt"):
        (root / name).touch()
    faces = {"kind": "celeba", "root": str(root), "resolution": 32}
    config = {**CONFIG, "data": {**CONFIG["data"], "faces": faces}}
    path = tmp / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp / "work"
    # a task waits this long for outputs that are not its own (issue 447 below), not 60 s
    code, out = snakemake_on_slurm(workdir, *TARGETS, "--configfile", str(path), *ARRAYS, "--latency-wait", "5")
    return workdir, code, out, arrays(out)


def test_a_failing_task_is_reported_and_fails_the_run(failing_array):
    workdir, code, out, tasks = failing_array
    assert code != 0
    assert sorted(tasks.values()) == sorted(SHARDS)
    states = slurm_states(out)
    for task, shard in tasks.items():
        assert jobs_run_in(task_log(workdir, task)) == [shard], task  # each task ran its own job
        if not shard.startswith("imagenette"):
            assert states[task] == "FAILED"
            assert f"SLURM-job '{task}' failed, SLURM status is: 'FAILED'" in out
    assert out.count("Error in rule finetune_data") >= 3
    assert "subject 0 does not exist" in out  # the failed job's own log, shown by show-failed-logs
    # and the working job's own command did its work (whatever Slurm says of its task: below)
    log = workdir / "results" / "logs" / "imagenette" / "finetune_data" / "imagenette-00000-00005.log"
    assert "wrote the finetuning data of 6 LoRAs" in log.read_text()


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="snakemake-executor-plugin-slurm#447 (2.8.0): every task's job step "
                   "checks the outputs of the array's first job, not its own")
def test_a_task_succeeds_or_fails_on_its_own(failing_array):
    workdir, code, out, tasks = failing_array
    first = next(shard for task, shard in tasks.items() if task.endswith("_1"))
    if first.startswith("imagenette"):
        pytest.skip("the working job was the array's first task, where issue 447 cannot show "
                    "(Snakemake, not the test, orders an array's tasks)")
    [good] = [task for task, shard in tasks.items() if shard.startswith("imagenette")]
    # the working job's task completed and Snakemake kept its output
    assert slurm_states(out)[good] == "COMPLETED"
    assert (workdir / "results" / "imagenette" / "data" / "imagenette-00000-00005").is_dir()


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="snakemake-executor-plugin-slurm 2.8.0 reports a task's Slurm log under "
                   "rule_<rule>/<wildcards>/, where slurmd does not write it (rule_<rule>/%A_%a.log)")
def test_a_failed_task_s_slurm_log_is_shown(failing_array):
    _, _, out, _ = failing_array
    shown = re.findall(r"Logfile (\S+/slurm_logs/\S+\.log)( not found\.|:)", out)
    assert shown and all(found == ":" for _, found in shown)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="snakemake-executor-plugin-slurm#473 (2.8.0): a rule's jobs handed to the "
                   "plugin while more of them wait are neither submitted nor given back; Snakemake waits forever")
def test_array_mode_submits_under_a_jobs_cap(slurm, tmp_path):
    # --jobs 1 with four ready finetune_data jobs: Snakemake hands one over, three wait
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
               "--profile", str(REPO / "profiles" / "slurm"), *LOCAL_SLURM, *TARGETS,
               "--configfile", str(REPO / "config" / "test.yaml"),
               "--slurm-array-jobs", "finetune_data", "--jobs", "1"]
    log = tmp_path / "snakemake.out"
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            if "submitted with SLURM jobid" in log.read_text() or ARRAY.search(log.read_text()):
                break
            time.sleep(2)
        out = log.read_text()
    finally:
        process.send_signal(signal.SIGINT)  # a hung run ignores it (it waits for the job it lost)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if match := re.search(r"SLURM run ID: (\S+)", log.read_text()):
            subprocess.run(["scancel", "--name", match[1]], capture_output=True)
    assert "submitted with SLURM jobid" in out or ARRAY.search(out), out[-3000:]
