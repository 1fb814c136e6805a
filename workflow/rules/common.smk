# Shared by every stage. The config is validated here, before the stages are included: a
# broken config stops the run with a message naming the key, and no job starts. What the
# config asks for is computed by the package (lolzoo.recipes.plan, a pure function of the
# config, tested without Snakemake); this file binds it to a job's wildcards.
import json
import re
import shlex
import sys
from pathlib import Path

from lolzoo.config import validate_config
from lolzoo.config.kinds import (ARC_DATA_KINDS, DIFFUSION_TYPES, LANGUAGE_TYPES, PRETRAINED_BY_THE_WORKFLOW,
                                 SYNTHETIC_TYPES)
from lolzoo.recipes import plan
from lolzoo.recipes.arg_files import write_arg_file
from lolzoo.recipes.job import write_job_file
from snakemake_interface_executor_plugins.settings import DeploymentMethod


validate_config(config)  # relative paths are taken from the working directory

RESULTS = plan.RESULTS
# Jobs run `python -m lolzoo` from this workflow's own src/, so a job never runs another
# checkout's lolzoo. Under --use-conda, envs/lolzoo.yaml gives `python` its dependencies;
# otherwise jobs use the Python running Snakemake (the venv, activated or not).
# Setting a prefix drops Snakemake's strict mode, so we restate it.
_uses_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
_job_path = "" if _uses_conda else f"export PATH='{Path(sys.executable).parent}':\"$PATH\"; "
shell.prefix(f"set -euo pipefail; export PYTHONPATH='{workflow.basedir}/src'; {_job_path}")
LOLZOO_ENV = "../../envs/lolzoo.yaml"  # every rule's conda environment (relative to its .smk file)

# Computed once, when the DAG is built: every LoRA's recipe, and the shards of each zoo.
RECIPES = plan.recipes_by_id(config)
SHARDS = {zoo: plan.shards(config, zoo) for zoo in config["zoos"]}
DATA_SHARDS = {zoo: plan.data_shards(config, zoo) for zoo in config["zoos"]}
DATA_SHARD_OF = {zoo: plan.data_shard_of(config, zoo) for zoo in config["zoos"]}
LOL = config["lol"]
LOL_ZOOS = plan.lol_zoos(config)


# ---- Wildcard patterns: which names a rule's wildcard may take --------------------------------
def pattern(names):
    """A wildcard pattern matching exactly these names (none: matches nothing), so that two
    rules never compete for one output."""
    return "|".join(map(re.escape, names)) or "(?!)"


def names_pattern(entries, field, values):
    """The entries (bases, data, zoos) whose `field` is one of `values`."""
    return pattern([name for name, spec in entries.items() if spec[field] in values])


def zoos_of(*types):
    return names_pattern(config["zoos"], "type", types)


LOL_ZOO_PATTERN = pattern(LOL_ZOOS)  # the report rules match only zoos with tasks
# diffusion zoos with an evaluation (sampled and CLIP-scored) and those labelled by their data alone
_DIFFUSION_ZOOS = [zoo for zoo, spec in config["zoos"].items() if spec["type"] in DIFFUSION_TYPES]
MEASURED_DIFFUSION_PATTERN = pattern([zoo for zoo in _DIFFUSION_ZOOS if plan.measured(config, zoo)])
DATA_LABELLED_DIFFUSION_PATTERN = pattern([zoo for zoo in _DIFFUSION_ZOOS if not plan.measured(config, zoo)])
EXTREMES_ZOO_PATTERN = pattern([zoo for zoo in LOL_ZOOS if plan.extremes_fit(config, zoo)])


# ---- Input and params functions: the plan, bound to a job's wildcards -------------------------
def bound(function, *names):
    """function(config, *the job's wildcards `names`), as an input or params function."""
    return lambda wildcards: function(config, *(getattr(wildcards, name) for name in names))


def entry_value(section, name, key, default=None):
    """config[section][<the job's wildcard `name`>][key], as a params function."""
    return lambda wildcards: config[section][getattr(wildcards, name)].get(key, default)


def base_dir(role):
    """The folder of the base model a zoo names under `role` (base, clip)."""
    return lambda wildcards: f"{RESULTS}/bases/{config['zoos'][wildcards.zoo][role]}"


def zoo_data_dir(wildcards):
    """The prepared data folder a zoo names (a language zoo's ARC splits)."""
    return f"{RESULTS}/data/{config['zoos'][wildcards.zoo]['data']}"


def data_shard_dir(wildcards):
    """The finetuning-data folder that holds a training shard's LoRAs."""
    return f"{RESULTS}/{wildcards.zoo}/data/{DATA_SHARD_OF[wildcards.zoo][wildcards.shard]}"


def shard_outputs(pattern):
    """Every shard's output of one zoo (e.g. its label folders)."""
    return lambda wildcards: expand(pattern, zoo=wildcards.zoo, shard=SHARDS[wildcards.zoo])


def optional_flag(flag, name):
    """Params function: `FLAG <input.name>` when the job has that input, else nothing."""
    return lambda wildcards, input: f"{flag} {shlex.quote(str(input.get(name)))}" if input.get(name) else ""


def file_list(files):
    """A named input as a list of paths (Snakemake gives a lone file as a string)."""
    return [files] if isinstance(files, str) else list(files)


# ---- Argument files: what a job is told, in a file named after its content ---------------------
# (lolzoo.recipes.arg_files). Written when Snakemake evaluates a job's params, a dry run too,
# under results/jobs/; the path changes exactly when the content does (the params trigger).
def shard_job_file(stage, *zoo_keys, with_data=False, shards=SHARDS):
    """The job of one shard: its LoRAs' recipes plus only the zoo settings `zoo_keys` it reads.
    `shards`: DATA_SHARDS for a finetuning-data job."""

    def path(wildcards):
        recipes = [RECIPES[wildcards.zoo][lora_id] for lora_id in shards[wildcards.zoo][wildcards.shard]]
        job = plan.shard_job(config, wildcards.zoo, recipes, zoo_keys, with_data)
        return write_job_file(job, plan.job_folder(wildcards.zoo, stage), wildcards.shard)

    return path


def base_job_file(stage, *zoo_keys):
    """A job about a zoo's base alone (no recipes), e.g. scoring or sampling the base."""
    return lambda wildcards: write_job_file(plan.shard_job(config, wildcards.zoo, [], zoo_keys),
                                            plan.job_folder(wildcards.zoo, stage), "base")


def recipes_spec_file(wildcards):
    return write_arg_file([plan.zoo_spec_text(config, wildcards.zoo)], plan.job_folder(wildcards.zoo, "recipes"),
                          wildcards.zoo, suffix=".json")


def provenance_file(wildcards):
    return write_arg_file([json.dumps(plan.zoo_provenance(config, wildcards.zoo), sort_keys=True)],
                          plan.job_folder(wildcards.zoo, "pack"), "provenance", suffix=".json")


def fit_flags_file(wildcards):
    return write_arg_file(plan.fit_flags(config, wildcards.zoo, wildcards.task, wildcards.model),
                          plan.job_folder(wildcards.zoo, "lol"), f"{wildcards.task}-{wildcards.model}")


def inputs_file(name=None):
    """The job's input files `input.<name>` (all of them without a name), one per line: an
    aggregate job's shell line says `@FILE` instead of listing 45 fit folders."""

    def path(wildcards, input):
        files = file_list(input if name is None else input.get(name))
        return write_arg_file(files, f"{plan.JOBS}/{wildcards.zoo}", name or "inputs")

    return path


# ---- Resources: what a job asks the scheduler for ---------------------------------------------
# The rules whose needs depend on the world (the GPU jobs that finetune and evaluate LoRAs,
# and LoL fits) read their first-attempt amounts from the config's `resources.<rule>`
# section (schema defaults: the default world; config/paper.yaml: the paper world's):
#     threads: rule_threads("finetune_diffusion")
#     resources:
#         **world_resources("finetune_diffusion"),
# A job retried by Snakemake (--retries; profiles/slurm sets it) asks for `attempt` times the
# amount, so a job killed for memory or time gets twice as much on its second try. Other
# rules declare small fixed amounts, most of them one of these two.
SMALL_JOB = {"mem_mb": 1000, "runtime": 10}
REPORT_JOB = {"mem_mb": 2000, "runtime": 10}  # a table or a figure of a zoo's fits


def rule_threads(rule_name):
    return config["resources"][rule_name]["threads"]


def world_resources(rule_name):
    """A GPU where the world has them (gpus_per_job), and `resources.<rule_name>`'s memory and time."""
    return {"gpu": config["gpus_per_job"], "mem_mb": attempt_scaled(rule_name, "mem_mb"),
            "runtime": attempt_scaled(rule_name, "runtime")}


def attempt_scaled(rule_name, key):
    """A resource callable: `resources.<rule_name>.<key>` times the job's attempt (1, 2, ...)."""
    amount = config["resources"][rule_name][key]

    def scaled(wildcards, attempt):
        return amount * attempt

    return scaled


# ---- Reliability (workflow/rules/reliability.smk): each evaluated zoo's sample, by shard ------
RELIABILITY_SHARDS = {zoo: plan.reliability_shards(config, zoo) for zoo in plan.reliability_zoos(config)}
RETEST_ZOOS_OF = {stage: pattern([zoo for zoo in RELIABILITY_SHARDS if config["zoos"][zoo]["type"] in types])
                  for stage, types in (("diffusion", DIFFUSION_TYPES), ("language", LANGUAGE_TYPES))}


def retest_job_file(wildcards):
    """The job of one shard's sampled LoRAs, with the zoo's evaluation settings."""
    recipes = [RECIPES[wildcards.zoo][lora_id] for lora_id in RELIABILITY_SHARDS[wildcards.zoo][wildcards.shard]]
    return write_job_file(plan.retest_job(config, wildcards.zoo, recipes), plan.job_folder(wildcards.zoo, "retest"),
                          wildcards.shard)


def reliability_flags_file(wildcards):
    return write_arg_file(plan.reliability_flags(config, wildcards.zoo), plan.job_folder(wildcards.zoo, "reliability"),
                          "flags")
