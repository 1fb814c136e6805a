"""What every column of an exported zoo means, its unit, and how its value was made.

A small registry keyed by zoo type and column name (fnmatch patterns), written from the code
that makes each value: the recipes (lolzoo.recipes.zoos), the finetuning data's labels
(lolzoo.data.prepare, celeba, imagenette), the CLIP score (lolzoo.diffusion.evaluate), the
language labels (lolzoo.language.evaluate) and the synthetic labels (lolzoo.synthetic.generator).
Settings come from the zoo's recorded config (evaluation prompts, seeds, ...); a setting the zoo
does not record reads "not recorded", and a column nobody described reads "not described".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

NOT_RECORDED = "not recorded"
NOT_DESCRIBED = "not described"
DIFFUSION = ("dreambooth-subject", "dreambooth-classes")


@dataclass(frozen=True)
class ColumnDoc:
    unit: str
    text: str


@dataclass(frozen=True)
class _Entry:
    pattern: str
    types: tuple[str, ...] | None  # zoo types it applies to; None: any
    unit: str
    text: Callable[[dict], str] | str  # from the zoo's config entry (may be empty)


def _setting(zoo: dict, *path, default=None):
    value = zoo
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return NOT_RECORDED if default is None else f"{default} (the default)"
        value = value[key]
    return value


def _clip_score(zoo: dict) -> str:
    prompts = _setting(zoo, "evaluation", "prompts")
    count = len(prompts) if isinstance(prompts, list) else NOT_RECORDED
    return ("the paper's CLIP score of the LoRA's samples: the mean over images of max(100·cos(image, prompt), 0) "
            f"(Hessel et al., 2021), scored by the `{_setting(zoo, 'clip')}` CLIP model; {count} prompts "
            f"(the zoo's card lists them), {_setting(zoo, 'evaluation', 'images_per_prompt', default=1)} images per prompt, "
            f"sampler {_setting(zoo, 'evaluation', 'sampler', default='base')} with "
            f"{_setting(zoo, 'evaluation', 'steps', default=20)} steps, guidance scale "
            f"{_setting(zoo, 'evaluation', 'guidance_scale', default=7.5)}, image j of every prompt from seed "
            f"{_setting(zoo, 'evaluation', 'seed', default=42)} + 1000·j (the same noise for every LoRA)")


def _arc_questions(zoo: dict) -> str:
    evaluation = zoo.get("evaluation")
    if not isinstance(evaluation, dict):
        return f"the 1,172 ARC-Challenge test questions (how many scored: {NOT_RECORDED})"
    limit = evaluation.get("max_questions")
    return "all 1,172 ARC-Challenge test questions" if limit is None else \
        f"the first {limit} of the 1,172 ARC-Challenge test questions"


_ENTRIES = (
    # fixed columns, every zoo
    _Entry("lora_id", None, "", "the LoRA's stable id `<zoo>-<index>` (it keeps its recipe when the zoo grows)"),
    _Entry("zoo", None, "", "the zoo's name"),
    _Entry("base_model", None, "", "the base model the LoRA adapts, as the LoRA declares it"),
    _Entry("rank", None, "", "the LoRA's largest module rank r"),
    _Entry("module_ranks", None, "", "every module's rank r, in module order: how many rows of each module "
                                     "`weights` holds"),
    _Entry("module_alphas", None, "", "every module's lora_alpha, in module order (null: none, scale 1): "
                                      "ΔW = (α/r) U Vᵀ, and `weights` does not include α/r"),
    _Entry("zoo_row", None, "", "the row's position in the zoo file it was exported from"),
    _Entry("weights", None, "float32", "the LoRA's factors as trained, little-endian float32: per module in order, "
                                       "Uᵀ (r × n, lora_B transposed) then Vᵀ (r × m, lora_A)"),
    _Entry("magnitudes", None, "float32", "the DoRA magnitude vector of every module in order (n floats each), "
                                          "little-endian float32"),
    # recipes (lolzoo.recipes.zoos)
    _Entry("index", None, "", "the LoRA's index in its zoo"),
    _Entry("seed", None, "", "the LoRA's training seed (initialisation, data order, noise), drawn from the "
                             "config's seed, the zoo and the index"),
    _Entry("lora_alpha", None, "", "lora_alpha of the recipe (the update is scaled by alpha / rank)"),
    _Entry("subject", ("dreambooth-subject",), "", "the identity whose images the LoRA was finetuned on"),
    _Entry("identity", ("dreambooth-subject",), "", "CelebA's identity number of the subject"),
    _Entry("images", ("dreambooth-subject",), "images", "images of the subject the LoRA was finetuned on"),
    _Entry("classes", ("dreambooth-classes",), "", "the classes present in the LoRA's finetuning images, `|`-joined"),
    _Entry("num_classes", ("dreambooth-classes",), "classes", "how many classes the finetuning images hold"),
    _Entry("replicate", ("dreambooth-classes",), "", "how many times the class subset occurred before in the zoo "
                                                     "(every nonempty subset once, then again)"),
    _Entry("images_per_class", ("dreambooth-classes",), "images", "finetuning images of each present class"),
    _Entry("dropped_sources", ("arc-sources",), "", "the ARC question sources left out of the LoRA's data, "
                                                    "`|`-joined"),
    _Entry("num_dropped", ("arc-sources",), "sources", "how many ARC sources were dropped"),
    # data labels (lolzoo.data.prepare, celeba, imagenette)
    _Entry("dataset_size", DIFFUSION, "images", "the number of finetuning images (exact, by construction)"),
    _Entry("class_*", ("dreambooth-classes",), "0/1", "1 when the class with that index is among the finetuning "
                                                      "images (exact, by construction)"),
    _Entry("[A-Z]*", ("dreambooth-subject",), "0/1",
           "the subject's face attribute: the majority over its finetuning images' per-image attribute "
           "(CelebA's annotations, or the procedural faces' attributes, each image flipped with the data's "
           "attribute_noise), so exact for the data the LoRA saw"),
    # language labels (lolzoo.language.evaluate, evaluate_cli)
    _Entry("val_loss", ("arc-sources",), "nats per answer token",
           "mean cross entropy per answer token of the finetuned model over the held-out ARC validation questions "
           "(prompt and correct answer, as finetuning sees them); deterministic"),
    _Entry("arc_c_accuracy", ("arc-sources",), "fraction of questions",
           lambda z: f"accuracy on {_arc_questions(z)}: a question counts as right when "
                     "the correct choice has the highest summed log-likelihood after the prompt; deterministic"),
    _Entry("arc_c_accuracy_norm", ("arc-sources",), "fraction of questions",
           "as arc_c_accuracy with each choice's log-likelihood divided by its length in characters "
           "(lm-evaluation-harness's acc_norm)"),
    _Entry("has_*", ("arc-sources",), "0/1", "1 when the LoRA's finetuning data kept that ARC source "
                                            "(exact, from the recipe)"),
    _Entry("train_questions", ("arc-sources",), "questions", "ARC questions the LoRA was finetuned on"),
    # synthetic labels (lolzoo.synthetic.generator): exact functions of ΔW_k = (α/r) U_k V_kᵀ, in float64
    _Entry("frob_norm_total", ("synthetic",), "", "sqrt(Σ_k ‖ΔW_k‖_F²), computed from the weights"),
    _Entry("frob_norm_*", ("synthetic",), "", "‖ΔW_k‖_F of module k, computed from the weights"),
    _Entry("nuclear_norm", ("synthetic",), "", "Σ_k ‖ΔW_k‖_* (sum of singular values), computed from the weights"),
    _Entry("linear_functional", ("synthetic",), "", "Σ_k ⟨C_k, ΔW_k⟩_F / sqrt(n_k m_k) with fixed Gaussian C_k, "
                                                    "computed from the weights"),
    _Entry("positive_functional_*", ("synthetic",), "0/1", "⟨C_k, ΔW_k⟩_F > 0 for module k, computed from "
                                                          "the weights"),
    _Entry("dominant_module", ("synthetic",), "module index", "argmax_k ‖ΔW_k‖_F / sqrt(n_k m_k), computed from "
                                                             "the weights"),
    # the CLIP score (lolzoo.diffusion.evaluate)
    _Entry("clip_score", DIFFUSION, "CLIP score (0 to 100)", _clip_score),
)


def describe_column(name: str, zoo_type: str | None, zoo: dict | None = None) -> ColumnDoc:
    """The first entry whose pattern matches and whose types include the zoo's; an unknown zoo type
    (not recorded) accepts any entry. A recipe hyperparameter gets its sampling distribution."""
    zoo = zoo or {}
    hparams = zoo.get("hparams") or {}
    if name in hparams:
        return ColumnDoc("", f"training hyperparameter, {distribution(hparams[name])}")
    for entry in _ENTRIES:
        if not fnmatch.fnmatchcase(name, entry.pattern):
            continue
        if entry.types is not None and zoo_type is not None and zoo_type not in entry.types:
            continue
        return ColumnDoc(entry.unit, entry.text(zoo) if callable(entry.text) else entry.text)
    return ColumnDoc("", NOT_DESCRIBED)


def distribution(spec) -> str:
    """A recipe's sampling spec in words (lolzoo.recipes.sampling)."""
    if not isinstance(spec, dict) or len(spec) != 1:
        return f"fixed at {spec}"
    (kind, values), = spec.items()
    if kind == "choice":
        return f"drawn uniformly from {values} (a value listed twice is drawn twice as often)"
    if kind in ("uniform", "loguniform", "randint"):
        words = {"uniform": "uniform", "loguniform": "log-uniform", "randint": "a uniform integer"}[kind]
        return f"{words} in [{values[0]}, {values[1]}]"
    return f"drawn as {spec}"
