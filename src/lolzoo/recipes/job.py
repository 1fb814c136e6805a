"""The job description every per-LoRA workflow step receives: written here, read here.

A job is {"zoo": {...}, "recipes": [<recipe row>, ...]}: a shard of LoRAs of one zoo, made
together in one process (a single LoRA is a shard of one), with only the zoo settings the
step reads, and for a finetuning-data job the zoo's data source under "data". A job about a
zoo's base alone has no recipes.

The workflow writes it with `write_job_file` (one line of JSON in a file named after its
content, passed as `--job @FILE`: see lolzoo.recipes.arg_files); every stage reads it with
`parse_job`, which checks its shape once: a malformed job fails before any model is loaded,
with one line that names the key (recipes[i].key for a recipe). Each stage then reads its
own settings with `get_value`.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.config.kinds import DEFAULT_PRECISION, PRECISIONS
from lolzoo.errors import LolzooError
from lolzoo.recipes.arg_files import write_arg_file

SHAPE = '{"zoo": {...}, "recipes": [{...}, ...]}'


def make_job(zoo: dict, recipes: list[dict], zoo_keys: tuple[str, ...] = (), data: dict | None = None) -> dict:
    """The job of these recipes of a zoo: its type and the settings `zoo_keys` only, so that
    changing another setting (say, the evaluation prompts for a finetuning job) leaves the job
    as it is. Keys the zoo leaves out (an optional section) stay out."""
    job = {"recipes": list(recipes), "zoo": {key: zoo[key] for key in ("type", *zoo_keys) if key in zoo}}
    if data is not None:
        job["data"] = data
    return job


def job_text(job: dict) -> str:
    """One line of JSON with sorted keys: the same job is the same text, and the same file."""
    return json.dumps(job, sort_keys=True)


def write_job_file(job: dict, folder: str | Path, name: str) -> str:
    """FOLDER/NAME-<hash>.json holding the job (written once); `--job @PATH` reads it."""
    return write_arg_file([job_text(job)], folder, name, suffix=".json")


class JobError(LolzooError):
    """A job JSON that is not what the workflow passes."""


def parse_job(text: str, zoo_types: tuple[str, ...], stage: str, needs_recipes: bool = True) -> dict:
    """The job as a dict; its zoo must be one of `zoo_types` (the stage's, named in the error).
    A job about the zoo's base alone (needs_recipes=False) may have no recipes."""
    try:
        job = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobError(f"--job is not JSON: {err}") from None
    if not isinstance(job, dict) or not isinstance(job.get("zoo"), dict) or "recipes" not in job:
        raise JobError(f"--job must be a JSON object {SHAPE}")
    recipes = job["recipes"]
    if not isinstance(recipes, list) or (needs_recipes and not recipes):
        raise JobError("recipes must be a non-empty list of recipe rows")
    seen = set()
    for number, recipe in enumerate(recipes):
        if not isinstance(recipe, dict):
            raise JobError(f"recipes[{number}] is not a JSON object")
        lora_id = recipe.get("lora_id")
        # every stage names a folder or a file after it
        if not isinstance(lora_id, str) or not lora_id or "/" in lora_id or lora_id.startswith("."):
            raise JobError(f"recipes[{number}] is a recipe without a usable lora_id (a file name): {lora_id!r}")
        if lora_id in seen:
            raise JobError(f"recipes: lora_id {lora_id!r} appears more than once")
        seen.add(lora_id)
    zoo_type = job["zoo"].get("type")
    if zoo_type not in zoo_types:
        raise JobError(f"zoo.type is {zoo_type!r}; a {stage} job needs one of {list(zoo_types)}")
    return job


def lora_ids(job: dict) -> list[str]:
    """The shard's LoRA ids, in recipe order (the order of every output)."""
    return [str(recipe["lora_id"]) for recipe in job["recipes"]]


def get_value(section: dict, key: str, where: str, kind, default=None, minimum=None, maximum=None):
    """section[key] converted by `kind`; missing (without default), unconvertible or out of range is a JobError."""
    if key not in section or section[key] is None:
        if default is None:
            raise JobError(f"{where}.{key} is missing")
        return default
    try:
        value = kind(section[key])
    except (TypeError, ValueError):
        raise JobError(f"{where}.{key} = {section[key]!r} is not a {kind.__name__}") from None
    if minimum is not None and value < minimum:
        raise JobError(f"{where}.{key} = {value!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise JobError(f"{where}.{key} = {value!r} must be at most {maximum}")
    return value


def target_modules(job: dict) -> tuple[str, ...]:
    targets = (job["zoo"].get("lora") or {}).get("target_modules")
    if not targets or not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise JobError("zoo.lora.target_modules must be a non-empty list of module names")
    return tuple(targets)


def per_recipe(job: dict, settings_of):
    """settings_of(recipe, where, zoo_lora, target_modules) for every recipe, in recipe order;
    `where` ("recipes[i]") names the recipe in errors."""
    lora, targets = job["zoo"].get("lora") or {}, target_modules(job)
    return [settings_of(recipe, f"recipes[{number}]", lora, targets) for number, recipe in enumerate(job["recipes"])]


def precision(job: dict) -> str:
    """The zoo's training precision (lolzoo.config.kinds.PRECISIONS); absent or null: fp32."""
    value = job["zoo"].get("precision")
    if value is None:
        return DEFAULT_PRECISION
    if value not in PRECISIONS:
        raise JobError(f"zoo.precision = {value!r} is not one of {', '.join(PRECISIONS)} "
                       "(the config key zoos.<zoo>.precision)")
    return value


def rank_and_alpha(recipe: dict, where: str, lora: dict) -> tuple[int, float]:
    """The recipe row's rank and lora_alpha when the zoo samples them; else the zoo's LoRA config."""
    rank = get_value(recipe, "rank", where, int, default=lora.get("rank"), minimum=1)
    alpha = get_value(recipe, "lora_alpha", where, float, default=lora.get("alpha"))
    if rank is None or alpha is None:
        raise JobError(f"{where}.rank / {where}.lora_alpha (or zoo.lora.rank / zoo.lora.alpha) are missing")
    return int(rank), float(alpha)
