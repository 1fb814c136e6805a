# Helpers shared by every stage. The config is validated here, before the stages are included:
# a broken config stops the run with a message naming the key, and no job starts.
import json
import sys
from pathlib import Path

from lolzoo.config import validate_config
from lolzoo.recipes import zoo_recipes
from snakemake_interface_executor_plugins.settings import DeploymentMethod


validate_config(config)  # relative paths are taken from the working directory

RESULTS = "results"
# Jobs run `python -m lolzoo` from this workflow's own src/, so a job never runs another
# checkout's lolzoo. Under --use-conda, envs/lolzoo.yaml gives `python` its dependencies;
# otherwise jobs use the Python running Snakemake (the venv, activated or not).
# Setting a prefix drops Snakemake's strict mode, so we restate it.
_uses_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
_job_path = "" if _uses_conda else f"export PATH='{Path(sys.executable).parent}':\"$PATH\"; "
shell.prefix(f"set -euo pipefail; export PYTHONPATH='{workflow.basedir}/src'; {_job_path}")
# Recipes are a pure function of the config: computed once, when the DAG is built.
RECIPES = {
    zoo: {row["lora_id"]: row for row in zoo_recipes(zoo, spec, config["seed"])}
    for zoo, spec in config["zoos"].items()
}


def zoo_spec_json(wildcards):
    """The part of the config one zoo's recipes depend on: a change elsewhere does not rerun it."""
    zoo = config["zoos"][wildcards.zoo]
    spec = {"world": config["world"], "seed": config["seed"], "zoos": {wildcards.zoo: zoo}}
    for section, key in (("bases", "base"), ("bases", "clip"), ("data", "data")):
        if key in zoo:
            spec.setdefault(section, {})[zoo[key]] = config[section][zoo[key]]
    return json.dumps(spec, sort_keys=True)


def lora_job(*zoo_keys, with_data=False):
    """Input function: the JSON one LoRA's job needs, its recipe plus only the zoo settings
    (and data source) it reads, so that changing, say, the evaluation prompts reruns the
    evaluations and not the finetuning."""

    def job_json(wildcards):
        zoo = config["zoos"][wildcards.zoo]
        job = {
            "recipe": RECIPES[wildcards.zoo][wildcards.lora_id],
            "zoo": {key: zoo[key] for key in ("type", *zoo_keys)},
        }
        if with_data:
            job["data"] = config["data"][zoo["data"]]
        return json.dumps(job, sort_keys=True)

    return job_json


def zoo_lora_ids(zoo):
    return list(RECIPES[zoo])


def names_pattern(entries, field, values):
    """A wildcard pattern matching exactly the entries whose `field` is one of `values`
    (none: matches nothing), so that two rules never compete for one output."""
    names = [name for name, spec in entries.items() if spec[field] in values]
    return "|".join(names) if names else "(?!)"


def zoos_of(*types):
    return names_pattern(config["zoos"], "type", types)


def base_dir(role):
    """Input function: the folder of the base model a zoo names under `role` (base, clip)."""
    return lambda wildcards: f"{RESULTS}/bases/{config['zoos'][wildcards.zoo][role]}"


def lora_outputs(pattern):
    """The per-LoRA files of one zoo, e.g. every label file, as an input function."""
    return lambda wildcards: expand(pattern, zoo=wildcards.zoo, lora_id=zoo_lora_ids(wildcards.zoo))


# Zoo types whose whole zoo `rule all` builds. Diffusion zoos have working rules (ask for
# results/zoos/<zoo>.parquet) but one process per LoRA spends most of its time importing,
# so they join once jobs train shards of LoRAs; language zoos have no finetune rule yet.
PRODUCED_TYPES = {"synthetic"}


def all_targets():
    targets = [f"{RESULTS}/{zoo}/recipes.csv" for zoo in config["zoos"]]
    targets += [f"{RESULTS}/zoos/{zoo}.parquet" for zoo, spec in config["zoos"].items() if spec["type"] in PRODUCED_TYPES]
    return targets
