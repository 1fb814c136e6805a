"""A language shard job (lolzoo.recipes.job) turned into typed settings.

The zoo config gives the LoRA shape (rank, alpha, target modules, DoRA or not) and the run's limits
(`max_length`, `micro_batch_size`, `max_train_questions`, `evaluation`); each recipe row gives the hyperparameters the
paper samples (learning rate, weight decay, epochs, batch size, LoRA dropout) and the sources
it drops. The finetuning also reads zoo.precision (absent: fp32; `precision`); the evaluation
always scores in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

from lolzoo.config.kinds import LANGUAGE_TYPES
from lolzoo.recipes.job import JobError, get_value, lora_ids, per_recipe, precision, rank_and_alpha
from lolzoo.recipes.job import parse_job as parse_shard_job

ZOO_TYPES = LANGUAGE_TYPES
DEFAULT_MAX_LENGTH = 256
DEFAULT_MICRO_BATCH = 32

__all__ = ["JobError", "lora_ids", "parse_job", "training_settings", "evaluation_settings", "run_limits", "precision"]


@dataclass(frozen=True)
class LanguageTraining:
    lora_id: str
    seed: int
    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    dora: bool  # peft's use_dora: a magnitude vector per module beside the low-rank pair
    learning_rate: float
    weight_decay: float
    num_epochs: int
    batch_size: int
    lora_dropout: float
    dropped_sources: frozenset[str]


@dataclass(frozen=True)
class RunLimits:
    max_length: int       # tokens of prompt + choices; longer prompts keep their end
    micro_batch_size: int  # rows per forward: a batch is split so memory stays bounded
    max_train_questions: int | None  # a LoRA trains on a seeded sample of at most this many (None: all)


@dataclass(frozen=True)
class LanguageEvaluation:
    max_questions: int | None  # ARC-Challenge test questions scored (None: all 1,172)
    max_validation_questions: int | None  # held-out questions of the validation loss (None: all)
    batch_size: int             # questions per scoring forward


def parse_job(text: str, needs_recipes: bool = True) -> dict:
    return parse_shard_job(text, ZOO_TYPES, "language", needs_recipes)


def run_limits(job: dict) -> RunLimits:
    zoo = job["zoo"]
    return RunLimits(max_length=get_value(zoo, "max_length", "zoo", int, default=DEFAULT_MAX_LENGTH, minimum=8),
                     micro_batch_size=get_value(zoo, "micro_batch_size", "zoo", int, default=DEFAULT_MICRO_BATCH,
                                                minimum=1),
                     max_train_questions=_optional_count(zoo, "max_train_questions", "zoo"))


def _optional_count(section: dict, key: str, where: str) -> int | None:
    """A positive count, or None (absent or null) for no limit."""
    return None if section.get(key) is None else get_value(section, key, where, int, minimum=1)


def training_settings(job: dict) -> list[LanguageTraining]:
    """One LanguageTraining per recipe, in recipe order."""
    return per_recipe(job, _recipe_settings)


def _recipe_settings(recipe: dict, where: str, lora: dict, targets: tuple[str, ...]) -> LanguageTraining:
    rank, alpha = rank_and_alpha(recipe, where, lora)
    dropped = get_value(recipe, "dropped_sources", where, str, default="")
    return LanguageTraining(
        lora_id=get_value(recipe, "lora_id", where, str),
        seed=get_value(recipe, "seed", where, int),
        rank=rank, alpha=alpha, target_modules=targets, dora=_flag(lora, "dora", "zoo.lora"),
        learning_rate=get_value(recipe, "learning_rate", where, float, minimum=0),
        weight_decay=get_value(recipe, "weight_decay", where, float, default=0.0, minimum=0),
        num_epochs=get_value(recipe, "num_epochs", where, int, default=1, minimum=1),
        batch_size=get_value(recipe, "batch_size", where, int, default=32, minimum=1),
        lora_dropout=get_value(recipe, "lora_dropout", where, float, default=0.0, minimum=0, maximum=0.99),
        dropped_sources=frozenset(s for s in dropped.split("|") if s),
    )


def _flag(section: dict, key: str, where: str) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):  # bool("false") would be True
        raise JobError(f"{where}.{key} = {value!r} is not true or false")
    return value


def evaluation_settings(job: dict) -> LanguageEvaluation:
    evaluation = job["zoo"].get("evaluation") or {}
    if not isinstance(evaluation, dict):
        raise JobError("zoo.evaluation must be an object {max_questions, batch_size} or absent")
    return LanguageEvaluation(
        max_questions=_optional_count(evaluation, "max_questions", "zoo.evaluation"),
        max_validation_questions=_optional_count(evaluation, "max_validation_questions", "zoo.evaluation"),
        batch_size=get_value(evaluation, "batch_size", "zoo.evaluation", int, default=16, minimum=1),
    )
