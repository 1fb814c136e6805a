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
    return json.dumps(
        {
            "world": config["world"],
            "seed": config["seed"],
            "zoos": {wildcards.zoo: zoo},
            "bases": {zoo["base"]: config["bases"][zoo["base"]]},
            "data": {zoo["data"]: config["data"][zoo["data"]]},
        },
        sort_keys=True,
    )


def zoo_lora_ids(zoo):
    return list(RECIPES[zoo])


def all_targets():
    return [f"{RESULTS}/{zoo}/recipes.csv" for zoo in config["zoos"]]
