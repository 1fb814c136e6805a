"""A diffusion shard job (lolzoo.recipes.job) turned into typed settings.

Everything the finetuning and the evaluation read from the job is here, so a malformed job
fails before any model is loaded. The finetuning reads zoo.lora and, optionally,
zoo.prior_preservation (absent or null: off) and zoo.precision (absent: fp32; `precision`);
the evaluation reads zoo.evaluation and zoo.precision (it samples in that precision too).
"""

from __future__ import annotations

from dataclasses import dataclass

from lolzoo.config.kinds import DIFFUSION_TYPES
from lolzoo.recipes.job import JobError, get_value, lora_ids, per_recipe, precision, rank_and_alpha
from lolzoo.recipes.job import parse_job as parse_shard_job

__all__ = ["JobError", "lora_ids", "parse_job", "training_settings", "evaluation_settings", "prior_preservation",
           "precision"]

ZOO_TYPES = DIFFUSION_TYPES


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


# evaluation.sampler -> the diffusers scheduler class that samples on the base's noise schedule
# (lolzoo.diffusion.evaluate.use_sampler); "base" keeps the base pipeline's own scheduler
SAMPLER_CLASSES = {"ddim": "DDIMScheduler", "dpm-solver": "DPMSolverMultistepScheduler",
                   "euler": "EulerDiscreteScheduler"}
SAMPLERS = ("base", *SAMPLER_CLASSES)


@dataclass(frozen=True)
class EvaluationSettings:
    prompts: tuple[str, ...]
    steps: int
    seed: int
    guidance_scale: float
    # images per prompt: image j of every prompt starts from seed + j * IMAGE_SEED_STRIDE, so the
    # re-measurement under seed + 1 draws none of the same noise
    images_per_prompt: int = 1
    sampler: str = "base"  # the base pipeline's own scheduler, or one of SAMPLERS on its schedule

    def image_seeds(self) -> list[int]:
        return [self.seed + j * IMAGE_SEED_STRIDE for j in range(self.images_per_prompt)]


IMAGE_SEED_STRIDE = 1000


def parse_job(text: str, needs_recipes: bool = True) -> dict:
    """needs_recipes=False: a job about the zoo's base alone (no recipes), e.g. sampling the base."""
    return parse_shard_job(text, ZOO_TYPES, "diffusion", needs_recipes)


def training_settings(job: dict) -> list[TrainingSettings]:
    """One TrainingSettings per recipe, in recipe order."""
    return per_recipe(job, _recipe_settings)


def _recipe_settings(recipe: dict, where: str, lora: dict, targets: tuple[str, ...]) -> TrainingSettings:
    rank, alpha = rank_and_alpha(recipe, where, lora)
    return TrainingSettings(
        lora_id=get_value(recipe, "lora_id", where, str),
        seed=get_value(recipe, "seed", where, int),
        rank=rank, alpha=alpha, target_modules=targets,
        learning_rate=get_value(recipe, "learning_rate", where, float),
        max_train_steps=get_value(recipe, "max_train_steps", where, int, minimum=1),
        gradient_accumulation_steps=get_value(recipe, "gradient_accumulation_steps", where, int, default=1, minimum=1),
        train_batch_size=get_value(recipe, "train_batch_size", where, int, default=1, minimum=1),
        instance_prompt=get_value(recipe, "instance_prompt", where, str),
    )


def evaluation_settings(job: dict) -> EvaluationSettings:
    evaluation = job["zoo"].get("evaluation")
    if not isinstance(evaluation, dict):
        raise JobError("zoo.evaluation is missing" if evaluation is None else
                       f"zoo.evaluation must be an object {{prompts, steps, ...}}, got {evaluation!r}")
    prompts = evaluation.get("prompts")
    if not prompts or not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
        raise JobError("zoo.evaluation.prompts must be a non-empty list of strings")
    return EvaluationSettings(
        prompts=tuple(prompts),
        steps=get_value(evaluation, "steps", "zoo.evaluation", int, default=20, minimum=1),
        seed=get_value(evaluation, "seed", "zoo.evaluation", int, default=42),
        guidance_scale=get_value(evaluation, "guidance_scale", "zoo.evaluation", float, default=7.5),
        images_per_prompt=get_value(evaluation, "images_per_prompt", "zoo.evaluation", int, default=1, minimum=1,
                                    maximum=IMAGE_SEED_STRIDE - 1),
        sampler=_sampler(evaluation.get("sampler", "base")),
    )


def _sampler(name) -> str:
    if name not in SAMPLERS:
        raise JobError(f"zoo.evaluation.sampler {name!r} is not a sampler (known: {', '.join(SAMPLERS)})")
    return name


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
        num_class_images=get_value(prior, "num_class_images", where, int, minimum=1),
        prior_loss_weight=get_value(prior, "prior_loss_weight", where, float, default=1.0, minimum=0),
        class_seed=get_value(prior, "class_seed", where, int, default=0, minimum=0),
        steps=get_value(prior, "steps", where, int, default=20, minimum=1),
        guidance_scale=get_value(prior, "guidance_scale", where, float, default=7.5, minimum=0),
    )
