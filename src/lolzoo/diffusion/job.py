"""The shard job JSON the workflow passes, checked once and turned into typed settings.

A job is {"zoo": <the zoo's config>, "recipes": [<recipe row>, ...]}: a shard of LoRAs of one
zoo, trained (and evaluated) together in one process; a single LoRA is a shard of one.
Everything the finetuning and the evaluation read from it is here, so a malformed job fails
before any model is loaded, with one line that names the key (recipes[i].key for a recipe).
The finetuning reads zoo.lora and, optionally, zoo.prior_preservation (absent or null: off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lolzoo.errors import LolzooError

ZOO_TYPES = ("dreambooth-subject", "dreambooth-classes")
SHAPE = '{"zoo": {...}, "recipes": [{...}, ...]}'


class JobError(LolzooError):
    """A job JSON that is not what the workflow passes."""


@dataclass(frozen=True)
class TrainingSettings:
    lora_id: str
    seed: int
    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    learning_rate: float
    max_train_steps: int
    gradient_accumulation_steps: int
    train_batch_size: int
    instance_prompt: str


@dataclass(frozen=True)
class PriorPreservation:
    """DreamBooth's prior preservation: class images from the base, trained on alongside the instances."""

    class_prompt: str
    num_class_images: int
    prior_loss_weight: float = 1.0
    class_seed: int = 0
    steps: int = 20  # denoising steps of each class image
    guidance_scale: float = 7.5

    @property
    def active(self) -> bool:
        """A weight of 0 is off: no class images, the instance-only result bit for bit."""
        return self.prior_loss_weight > 0


@dataclass(frozen=True)
class EvaluationSettings:
    prompts: tuple[str, ...]
    steps: int
    seed: int
    guidance_scale: float


def parse_job(text: str) -> dict:
    try:
        job = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobError(f"--job is not JSON: {err}") from None
    if not isinstance(job, dict) or not isinstance(job.get("zoo"), dict) or "recipes" not in job:
        raise JobError(f"--job must be a JSON object {SHAPE}")
    recipes = job["recipes"]
    if not isinstance(recipes, list) or not recipes:
        raise JobError("recipes must be a non-empty list of recipe rows")
    for number, recipe in enumerate(recipes):
        if not isinstance(recipe, dict):
            raise JobError(f"recipes[{number}] is not a JSON object")
    ids = [_get(recipe, "lora_id", f"recipes[{number}]", str) for number, recipe in enumerate(recipes)]
    repeated = sorted({lora_id for lora_id in ids if ids.count(lora_id) > 1})
    if repeated:
        raise JobError(f"recipes: lora_id {repeated[0]!r} appears more than once")
    zoo_type = job["zoo"].get("type")
    if zoo_type not in ZOO_TYPES:
        raise JobError(f"zoo.type is {zoo_type!r}; a diffusion job needs one of {list(ZOO_TYPES)}")
    return job


def lora_ids(job: dict) -> list[str]:
    """The shard's LoRA ids, in recipe order (the order of every output)."""
    return [str(recipe["lora_id"]) for recipe in job["recipes"]]


def _get(section: dict, key: str, where: str, kind, default=None, minimum=None):
    """section[key] converted by `kind`; missing (without default) or unconvertible is a JobError."""
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
    return value


def training_settings(job: dict) -> list[TrainingSettings]:
    """One TrainingSettings per recipe, in recipe order."""
    lora = job["zoo"].get("lora") or {}
    targets = lora.get("target_modules")
    if not targets or not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise JobError("zoo.lora.target_modules must be a non-empty list of module names")
    return [_recipe_settings(recipe, f"recipes[{number}]", lora, tuple(targets))
            for number, recipe in enumerate(job["recipes"])]


def _recipe_settings(recipe: dict, where: str, lora: dict, targets: tuple[str, ...]) -> TrainingSettings:
    # The recipe row carries rank and alpha when the zoo samples them; else the zoo's LoRA config.
    rank = _get(recipe, "rank", where, int, default=lora.get("rank"), minimum=1)
    alpha = _get(recipe, "lora_alpha", where, float, default=lora.get("alpha"))
    if rank is None or alpha is None:
        raise JobError(f"{where}.rank / {where}.lora_alpha (or zoo.lora.rank / zoo.lora.alpha) are missing")
    return TrainingSettings(
        lora_id=_get(recipe, "lora_id", where, str),
        seed=_get(recipe, "seed", where, int),
        rank=int(rank), alpha=float(alpha), target_modules=targets,
        learning_rate=_get(recipe, "learning_rate", where, float),
        max_train_steps=_get(recipe, "max_train_steps", where, int, minimum=1),
        gradient_accumulation_steps=_get(recipe, "gradient_accumulation_steps", where, int, default=1, minimum=1),
        train_batch_size=_get(recipe, "train_batch_size", where, int, default=1, minimum=1),
        instance_prompt=_get(recipe, "instance_prompt", where, str),
    )


def evaluation_settings(job: dict) -> EvaluationSettings:
    evaluation = job["zoo"].get("evaluation")
    if not isinstance(evaluation, dict):
        raise JobError("zoo.evaluation is missing")
    prompts = evaluation.get("prompts")
    if not prompts or not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
        raise JobError("zoo.evaluation.prompts must be a non-empty list of strings")
    return EvaluationSettings(
        prompts=tuple(prompts),
        steps=_get(evaluation, "steps", "zoo.evaluation", int, default=20, minimum=1),
        seed=_get(evaluation, "seed", "zoo.evaluation", int, default=42),
        guidance_scale=_get(evaluation, "guidance_scale", "zoo.evaluation", float, default=7.5),
    )


PRIOR_KEYS = ("class_prompt", "num_class_images", "prior_loss_weight", "class_seed", "steps", "guidance_scale")


def prior_preservation(job: dict) -> PriorPreservation | None:
    """zoo.prior_preservation, or None when the job has no such key (or null): the same for every LoRA."""
    prior = job["zoo"].get("prior_preservation")
    where = "zoo.prior_preservation"
    if prior is None:
        return None
    if not isinstance(prior, dict):
        raise JobError(f"{where} must be an object {{class_prompt, num_class_images, ...}} or absent")
    unknown = sorted(set(prior) - set(PRIOR_KEYS))
    if unknown:
        raise JobError(f"{where}.{unknown[0]} is not a setting (known: {', '.join(PRIOR_KEYS)})")
    prompt = prior.get("class_prompt")
    if not isinstance(prompt, str) or not prompt:
        raise JobError(f"{where}.class_prompt must be a non-empty string")
    return PriorPreservation(
        class_prompt=prompt,
        num_class_images=_get(prior, "num_class_images", where, int, minimum=1),
        prior_loss_weight=_get(prior, "prior_loss_weight", where, float, default=1.0, minimum=0),
        class_seed=_get(prior, "class_seed", where, int, default=0, minimum=0),
        steps=_get(prior, "steps", where, int, default=20, minimum=1),
        guidance_scale=_get(prior, "guidance_scale", where, float, default=7.5, minimum=0),
    )
