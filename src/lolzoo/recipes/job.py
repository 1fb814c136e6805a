"""The shard job JSON every per-LoRA workflow step receives, checked once.

A job is {"zoo": <the zoo's config>, "recipes": [<recipe row>, ...]}: a shard of LoRAs of one
zoo, made together in one process; a single LoRA is a shard of one. A malformed job fails
before any model is loaded, with one line that names the key (recipes[i].key for a recipe).
Each stage (diffusion, language) reads its own settings from it with `get_value`.
"""

from __future__ import annotations

import json

from lolzoo.errors import LolzooError

SHAPE = '{"zoo": {...}, "recipes": [{...}, ...]}'


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
    for number, recipe in enumerate(recipes):
        if not isinstance(recipe, dict):
            raise JobError(f"recipes[{number}] is not a JSON object")
    ids = [get_value(recipe, "lora_id", f"recipes[{number}]", str) for number, recipe in enumerate(recipes)]
    repeated = sorted({lora_id for lora_id in ids if ids.count(lora_id) > 1})
    if repeated:
        raise JobError(f"recipes: lora_id {repeated[0]!r} appears more than once")
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


def rank_and_alpha(recipe: dict, where: str, lora: dict) -> tuple[int, float]:
    """The recipe row's rank and lora_alpha when the zoo samples them; else the zoo's LoRA config."""
    rank = get_value(recipe, "rank", where, int, default=lora.get("rank"), minimum=1)
    alpha = get_value(recipe, "lora_alpha", where, float, default=lora.get("alpha"))
    if rank is None or alpha is None:
        raise JobError(f"{where}.rank / {where}.lora_alpha (or zoo.lora.rank / zoo.lora.alpha) are missing")
    return int(rank), float(alpha)
