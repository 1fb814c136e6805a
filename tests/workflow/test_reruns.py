"""Partial reruns and single targets (issue 6, item 4), asserted on exact job lists.

A job is (rule, wildcards), read from the `Job N: <message>` lines of `snakemake -n` or of a
run (tests/workflow/console.py). Single targets are dry-run in the paper world; reruns run a
cheap real world of two synthetic zoos, once, and then edit, delete or break one zoo at a time.
"""

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from tests.conftest import REPO
from tests.workflow.console import job, parse_jobs
from tests.workflow.runner import dry_run_jobs, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake for real: minutes; `pytest -m "not slow"` skips it


def planned_jobs(workdir: Path, *args: str, targets: tuple[str, ...] = ()) -> Counter:
    """Every job a dry run plans. Targets go first: --configfile takes every word after it."""
    out = snakemake(workdir, *targets, "-n", *args).stdout
    jobs = parse_jobs(out)
    if not jobs:
        assert "Nothing to be done" in out, out[-3000:]
    return jobs


def run_jobs(workdir: Path, *args: str, targets: tuple[str, ...] = (), check: bool = True):
    """Run for real: (the jobs Snakemake started, the completed process)."""
    result = snakemake(workdir, *targets, *args, "--cores", "2", check=check)
    return parse_jobs(result.stdout + result.stderr), result


def jobs_of(*jobs: tuple) -> Counter:
    return Counter(jobs)


# --- single targets in the paper world (dry runs only) --------------------------------------

PAPER = REPO / "config" / "paper.yaml"


def test_one_diffusion_lora_schedules_its_base_data_and_finetune_only(tmp_path):
    # One LoRA needs the SD base (not the CLIP: that scores it, later), the data shard that
    # holds it (data_shard_size 100: LoRAs 0-99) and its finetune. No recipes job: recipes
    # are computed from the config when the DAG is built, and recipes.csv is an input of the
    # pack only.
    shard = "celeba-00117-00117"
    planned = planned_jobs(tmp_path, "--configfile", str(PAPER), targets=(f"results/celeba/loras/{shard}",))
    assert planned == jobs_of(
        job("fetch_base", base="sd"),
        job("finetune_data", zoo="celeba", shard="celeba-00100-00199"),
        job("finetune_diffusion", zoo="celeba", shard=shard),
    )


def test_one_lol_fit_schedules_its_zoos_chain_and_that_fit_alone(tmp_path):
    # one (zoo, task, model) of the paper world's lol.tasks: the arc zoo's whole chain
    # (its pack needs every LoRA), one fit, and nothing of the diffusion zoos
    config = yaml.safe_load(PAPER.read_text())
    assert "glnet" in config["lol"]["models"] and 1 in config["lol"]["seeds"]
    assert "val_loss" in config["lol"]["tasks"]["arc"] and config["zoos"]["arc"]["shard_size"] == 1
    target = "results/lol/arc/val_loss/glnet"
    planned = planned_jobs(tmp_path, "--configfile", str(PAPER), targets=(target,))
    shards = [f"arc-{i:05d}-{i:05d}" for i in range(config["zoos"]["arc"]["count"])]
    assert len(shards) == 2000
    assert planned == jobs_of(
        job("fetch_base", base="lm"),
        job("prepare_arc", data="arc"),
        job("recipes", zoo="arc"),
        *(job("finetune_language", zoo="arc", shard=shard) for shard in shards),
        *(job("evaluate_language", zoo="arc", shard=shard) for shard in shards),
        job("gather_labels", zoo="arc"),
        job("pack", zoo="arc"),
        job("fit_lol", zoo="arc", task="val_loss", model="glnet"),
    )


# --- reruns in a real world of two synthetic zoos -------------------------------------------

TASKS = {
    "norms": {"kind": "regression", "targets": ["frob_norm_total", "nuclear_norm"], "train": {"epochs": 2}},
    "signs": {"kind": "multilabel", "targets": ["positive_functional_*"], "train": {"epochs": 2}},
}
# Kept small for a busy 2-CPU machine: two shards per zoo, one LoL model, three fits in all.
WORLD = {
    "world": "reruns",
    "seed": 0,
    "zoos": {
        # 12 LoRAs, so that every split of 0.5/0.25/0.25 has one
        "synthetic": {"type": "synthetic", "count": 12, "shard_size": 6, "lora": {"rank": 4}},
        "synthetic_b": {"type": "synthetic", "count": 12, "shard_size": 6, "lora": {"rank": 2}},
    },
    "lol": {
        "split": {"train": 0.5, "val": 0.25, "test": 0.25},
        "seeds": [0],
        "models": ["mlp"],
        "tasks": {"synthetic": TASKS, "synthetic_b": {"norms": TASKS["norms"]}},
    },
}
SHARDS = {zoo: [f"{zoo}-00000-00005", f"{zoo}-00006-00011"] for zoo in WORLD["zoos"]}


def write_world(path: Path, edit=None) -> Path:
    config = yaml.safe_load(yaml.safe_dump(WORLD))  # a deep copy
    if edit:
        edit(config)
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "lolzoo", "validate", str(path)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0, result.stdout + result.stderr
    return path


def fits(zoo: str, tasks=None) -> list[tuple]:
    tasks = tasks or WORLD["lol"]["tasks"][zoo]
    return [job("fit_lol", zoo=zoo, task=task, model=model) for task in tasks
            for model in [*WORLD["lol"]["models"], "reference"]]


def report_jobs(zoo: str) -> list[tuple]:
    """The jobs that read all of a zoo's fits: the comparison, its figure, and the figure of
    each task kind the zoo has (predicted vs true for regression, per label for multilabel)."""
    kinds = {task["kind"] for task in WORLD["lol"]["tasks"][zoo].values()}
    return [job("compare_lol", zoo=zoo), job("plot_lol", zoo=zoo),
            *([job("plot_predictions_lol", zoo=zoo)] if "regression" in kinds else []),
            *([job("plot_labels_lol", zoo=zoo)] if "multilabel" in kinds else [])]


def after_fits(zoo: str) -> list[tuple]:
    return [*report_jobs(zoo), job("results_doc"), job("all")]


def zoo_jobs(zoo: str) -> list[tuple]:
    """Everything downstream of one zoo's shards."""
    return [job("gather_labels", zoo=zoo), job("pack", zoo=zoo), job("export_zoo", zoo=zoo), *fits(zoo),
            job("summarize_zoo", zoo=zoo), *report_jobs(zoo)]


class World(NamedTuple):
    workdir: Path
    config: Path
    first_run: Counter  # the jobs the first run started


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """The two-zoo synthetic world, run once for real."""
    root = tmp_path_factory.mktemp("reruns")
    config = write_world(root / "world.yaml")
    ran, _ = run_jobs(root / "work", "--configfile", str(config))
    return World(root / "work", config, ran)


def outputs_of(workdir: Path, zoo: str) -> dict[str, int]:
    """Every file of one zoo under results/ (logs aside), with its modification time in ns."""
    results = workdir / "results"
    paths = [p for pattern in (f"{zoo}/**/*", f"zoos/{zoo}.parquet", f"lol/{zoo}/**/*", f"report/{zoo}/**/*",
                               f"exports/{zoo}/**/*")
             for p in results.glob(pattern) if p.is_file()]
    assert paths
    return {str(p.relative_to(results)): p.stat().st_mtime_ns for p in paths}


def test_world_runs_every_job_once(world):
    workdir, _, first_run = world
    assert first_run == jobs_of(
        *(job("recipes", zoo=zoo) for zoo in WORLD["zoos"]),
        *(job("synthesize_loras", zoo=zoo, shard=shard) for zoo, shards in SHARDS.items() for shard in shards),
        *(j for zoo in WORLD["zoos"] for j in zoo_jobs(zoo)),
        job("results_doc"),
        job("all"),
    )
    for zoo, shards in SHARDS.items():
        assert sorted(p.name for p in (workdir / "results" / zoo / "loras").glob("[!.]*")) == shards


def test_second_dry_run_has_nothing_to_do(world):
    workdir, config, _ = world
    assert dry_run_jobs(workdir, "--configfile", str(config)) == {}


def test_changing_one_tasks_epochs_reruns_only_its_fits_and_their_report(world, tmp_path):
    workdir, _, _ = world
    edited = write_world(tmp_path / "epochs.yaml",
                         lambda c: c["lol"]["tasks"]["synthetic"]["signs"]["train"].update(epochs=3))
    # the params trigger: not the pack, not the norms fits, not the summary, nothing of synthetic_b
    assert planned_jobs(workdir, "--configfile", str(edited)) == jobs_of(
        *fits("synthetic", ["signs"]), *after_fits("synthetic"))


def test_growing_one_zoo_reruns_only_that_zoo_and_only_its_new_shard(world, tmp_path):
    workdir, _, _ = world
    edited = write_world(tmp_path / "count.yaml", lambda c: c["zoos"]["synthetic_b"].update(count=16))
    # ids 0..11 keep their recipes, so their shards' jobs are unchanged; ids 12..15 make one
    # new shard; the recipes table, the labels, the pack and everything after it follow;
    # nothing of the other zoo
    assert planned_jobs(workdir, "--configfile", str(edited)) == jobs_of(
        job("recipes", zoo="synthetic_b"),
        job("synthesize_loras", zoo="synthetic_b", shard="synthetic_b-00012-00015"),
        *zoo_jobs("synthetic_b"),
        job("results_doc"),
        job("all"),
    )


def test_a_failed_fit_leaves_the_other_zoo_intact_and_reruns_alone(world, tmp_path):
    workdir, config, _ = world
    before = outputs_of(workdir, "synthetic_b")
    # synthetic's signs task asks for a label the zoo does not have: its fit fails
    broken = write_world(tmp_path / "broken.yaml",
                         lambda c: c["lol"]["tasks"]["synthetic"]["signs"].update(targets=["no_such_label"]))
    ran, result = run_jobs(workdir, "--configfile", str(broken), "--keep-going", check=False)
    assert result.returncode != 0 and "no_such_label" in result.stderr  # the failed job's log is shown
    assert ran == jobs_of(*fits("synthetic", ["signs"]))  # compare and plot never start
    lol = workdir / "results" / "lol" / "synthetic"
    # the failed job's output is removed; the other task's fit and the other zoo stay
    assert not (lol / "signs" / "mlp").exists()
    assert (lol / "norms" / "mlp" / "fold0" / "seed0" / "metrics.json").exists()
    assert outputs_of(workdir, "synthetic_b") == before
    # back on the good config, exactly the failed fit (now missing) and its report run
    ran, _ = run_jobs(workdir, "--configfile", str(config))
    assert ran == jobs_of(*fits("synthetic", ["signs"]), *after_fits("synthetic"))
    assert outputs_of(workdir, "synthetic_b") == before


def test_deleting_one_shard_reruns_that_shard_then_only_its_zoos_downstream(world):
    # (last: it leaves synthetic_b's downstream to do)
    workdir, config, _ = world
    zoo, shard = "synthetic_b", "synthetic_b-00006-00011"
    target = f"results/{zoo}/loras/{shard}"
    adapters = {p.relative_to(workdir): p.read_bytes() for p in (workdir / target).rglob("*.safetensors")}
    assert len(adapters) == 6
    synthetic = outputs_of(workdir, "synthetic")
    shutil.rmtree(workdir / target)
    # Snakemake does not rebuild a missing intermediate while everything after it is there
    assert planned_jobs(workdir, "--configfile", str(config)) == Counter()
    # asked for, the folder is made again by exactly its one job, with the same LoRAs
    ran, _ = run_jobs(workdir, "--configfile", str(config), targets=(target,))
    assert ran == jobs_of(job("synthesize_loras", zoo=zoo, shard=shard))
    assert {p.relative_to(workdir): p.read_bytes() for p in (workdir / target).rglob("*.safetensors")} == adapters
    # The rewritten shard (its LoRAs and its labels, now newer than labels.csv and the pack)
    # makes exactly its zoo's downstream stale, by modification time (same bytes or not);
    # the other shard and the other zoo stay as they are
    assert planned_jobs(workdir, "--configfile", str(config)) == jobs_of(*zoo_jobs(zoo), job("results_doc"), job("all"))
    assert outputs_of(workdir, "synthetic") == synthetic
