"""The model card (README.md) of an exported LoL model: YAML front matter a model hub reads, then
what the model predicts, the zoo it learned from, how well (cross-validated, beside the trivial
baseline and the noise ceiling), how to call it, and what it cannot do.

Every score comes from the report's own functions (lolzoo.report.cv_scores.read_scores and
comparison_table.interval_table), so the card shows the numbers `lolzoo compare` shows for the
same folder. Facts a model written by older code lacks (the zoo's sha256, its base's weights)
are said to be "not recorded", never guessed.

The front matter is rendered by publish/card_text.py, as the zoo's dataset card renders its own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import torch
from lolzoo.lol.artifacts import TrainedModel, jsonable
from lolzoo.lol.predict import Prediction, is_location
from lolzoo.lol.predict_output import prediction_record
from lolzoo.publish import card_text
from lolzoo.publish.card_text import LOL_BIBTEX
from lolzoo.publish.column_docs import NOT_DESCRIBED, NOT_RECORDED, describe_column
from lolzoo.publish.model_export import PublishedRun
from lolzoo.report.ceilings import EXACT
from lolzoo.report.compare import BASELINE, HEADLINE_METRICS, METRIC_NAMES, MODEL_NAMES, Group, _decimal
from lolzoo.report.comparison_table import CEILING, HIGHER_IS_BETTER, cell_text, display_name, interval_table
from lolzoo.report.cv_scores import read_scores
from lolzoo.report.intervals import SEEDS_ONLY

DIGITS = 3
TASK_TAGS = {"regression": "regression", "multilabel": "multi-label-classification",
             "multiclass": "multi-class-classification"}


def evaluation_table(run: PublishedRun, reliability: dict | None) -> pd.DataFrame:
    """The report's interval table of every fold × seed of the run's fit-cv folder (or of the one
    fit), with the trivial baseline and, from the reliability files, the noise ceiling."""
    scores = read_scores([run.source if run.cv is not None else run.folder])
    return interval_table(scores, reliability or {})


def model_card(run: PublishedRun, trained: TrainedModel, table: pd.DataFrame, digests: dict[str, str],
               folder_name: str, reliability_file: Path | None = None) -> str:
    """README.md: front matter, then the sections in the module doc's order."""
    info = trained.info
    sections = [
        _title(info),
        _predicts(trained),
        _zoo_section(info),
        _training_section(run, trained),
        _evaluation_section(run, info, table, reliability_file),
        _usage_section(trained, folder_name),
        _limitations_section(trained),
        _files_section(digests),
        _licence_section(info),
        _citation_section(),
    ]
    return card_text.front_matter(front_matter(run, trained, table)) + "\n" + "\n\n".join(sections) + "\n"


# ---- front matter ---------------------------------------------------------------------------

def front_matter(run: PublishedRun, trained: TrainedModel, table: pd.DataFrame) -> dict:
    info, task = trained.info, trained.task
    zoo, base = info.get("zoo", {}), base_identity(info)
    return jsonable({
        "library_name": "lolzoo",
        "license": "mit",
        "tags": ["lolzoo", "weight-space-learning", "lora", TASK_TAGS[task.kind], f"lol-{trained.model.kind}"],
        "datasets": [zoo.get("name")],
        "lolzoo": {
            "zoo": zoo.get("name"), "zoo_sha256": zoo.get("sha256"),
            "base": {"name": base["name"], "sha256": base["sha256"]},
            "task": task.kind, "targets": list(task.targets), "model": trained.model.kind,
            "fold": run.fold, "folds": run.folds, "seed": run.seed, "cross_validated": run.cv is not None,
            "rank": trained.rank, "rank_agnostic": bool(trained.model.rank_agnostic),
            "dora": bool(trained.model.magnitudes),
        },
        "model-index": [_model_index(info, trained, table)],
    })




def _model_index(info: dict, trained: TrainedModel, table: pd.DataFrame) -> dict:
    """The hub's model-index: the cross-validated mean of each headline metric (its interval in the name)."""
    model = _model_rows(table, trained.model.kind)
    metrics = [{"type": name, "value": float(row.mean), "name": f"{METRIC_NAMES.get(name, name)}: "
                f"{cell_text(row._replace(mark=''), DIGITS)}"}
               for name, row in model.items() if math.isfinite(row.mean)]
    zoo, task = info.get("zoo", {}).get("name"), trained.task
    return {"name": _title_text(info), "results": [{
        "task": {"type": TASK_TAGS[task.kind], "name": f"{task.kind} of {', '.join(task.targets)}"},
        "dataset": {"name": f"lolzoo zoo {zoo}", "type": str(zoo)},
        "metrics": metrics}]}


# ---- sections ---------------------------------------------------------------------------------

def _title_text(info: dict) -> str:
    kind = info["model"]["kind"]
    return (f"{MODEL_NAMES.get(kind, kind)} predicting {', '.join(info['task']['targets'])} "
            f"of {info.get('zoo', {}).get('name')} LoRAs")


def _title(info: dict) -> str:
    return (f"# {_title_text(info)}\n\n"
            "A LoL model (*Learning on LoRAs*) made with lolzoo: it reads a LoRA's weights, the low-rank factors "
            "of each adapted matrix, and predicts a label of the finetuned model without running it.")


def _predicts(trained: TrainedModel) -> str:
    task = trained.task
    lines = ["## What it predicts", ""]
    if task.kind == "regression":
        lines.append(f"Regression: one number per target, in the label's own units (the network's output times "
                     f"the training labels' standard deviation σ, plus their mean μ).")
        lines += ["", "| target | meaning | training μ | training σ |", "|---|---|---|---|"]
        lines += [f"| {t} | {_meaning(trained, t)} | {_decimal(float(mu), DIGITS)} | {_decimal(float(sd), DIGITS)} |"
                  for t, mu, sd in zip(task.targets, task.mean, task.std)]
    elif task.kind == "multilabel":
        lines.append("Multilabel: for each label, the probability that it is 1 (a number in [0, 1]).")
        lines += ["", "| label | meaning |", "|---|---|"] + [f"| {t} | {_meaning(trained, t)} |" for t in task.targets]
    else:
        target, classes = task.targets[0], ", ".join(map(str, task.classes))
        lines.append(f"Multiclass: the class of {target}, one of {classes}, with each class's probability. "
                     f"{target}: {_meaning(trained, target)}.")
    return "\n".join(lines)


def _meaning(trained: TrainedModel, target: str) -> str:
    """The zoo card's description of the label (lolzoo.publish.column_docs), from the zoo's config
    as model.json recorded it; a label it does not know is referred to the zoo's card."""
    zoo = trained.info.get("zoo", {})
    zoo_config = (zoo.get("provenance") or {}).get("zoo_config") or {}
    entry = (zoo_config.get("zoos") or {}).get(zoo.get("name"), {})
    doc = describe_column(target, entry.get("type"), entry)
    if not entry or doc.text == NOT_DESCRIBED:  # no recorded settings: the defaults would read as facts
        return "a label of the zoo, described by the zoo's card"
    return f"{doc.text} ({doc.unit})" if doc.unit else doc.text


def base_identity(info: dict) -> dict:
    """The base's name and weights sha256 as model.json records them (older models: the name only)."""
    zoo = info.get("zoo", {})
    base = zoo.get("provenance", {}).get("base") or {}
    name = base.get("name") or zoo.get("base_model")
    return {"name": None if name == "unknown" else name, "kind": base.get("kind"), "sha256": base.get("sha256")}


def _zoo_section(info: dict) -> str:
    zoo, base = info.get("zoo", {}), base_identity(info)
    provenance = zoo.get("provenance", {})
    rows = [("zoo", zoo.get("name")), ("zoo file sha256", zoo.get("sha256")),
            ("base model", base["name"] if not base["kind"] else f"{base['name']} ({base['kind']})"),
            ("base weights sha256", base["sha256"]), ("world (config)", provenance.get("world")),
            ("config sha256", provenance.get("config_sha256")),
            ("lolzoo version that made the zoo", provenance.get("lolzoo_version")),
            ("zoo schema version", zoo.get("schema_version")), ("zoo path when trained", zoo.get("path"))]
    table = "\n".join(f"| {name} | {_shown(value)} |" for name, value in rows)
    return ("## Trained on\n\nA lolzoo zoo: one Parquet file of LoRAs of one base, each with its recipe and labels.\n\n"
            "| | |\n|---|---|\n" + table)


def _shown(value) -> str:
    return NOT_RECORDED if value in (None, "", "unknown") else f"`{value}`" if isinstance(value, str) else str(value)


def _training_section(run: PublishedRun, trained: TrainedModel) -> str:
    training, kind = trained.info.get("training", {}), trained.model.kind
    settings = training.get("settings", {})
    sizes = run.metrics.get("sizes", {})
    optimiser = {k: settings[k] for k in ("lr", "weight_decay", "batch_size", "epochs") if k in settings}
    split = (f"fold {run.fold} of {run.folds} (its test LoRAs held out; validation carved from the other folds)"
             if run.folds > 1 else "the fixed split")
    lines = ["## Training", "",
             f"- model: {MODEL_NAMES.get(kind, kind)} (`{kind}`), hyperparameters "
             f"`{json.dumps(trained.info['model'].get('hparams', {}), sort_keys=True)}`",
             f"- published run: {split}, seed {run.seed}; LoRAs: {sizes.get('train', '?')} train, "
             f"{sizes.get('val', '?')} validation, {sizes.get('test', '?')} test",
             f"- training: `{json.dumps(optimiser, sort_keys=True)}`, "
             f"best epoch {training.get('best_epoch', '?')} (by validation loss)"]
    if run.cv is not None:
        cv = run.cv["settings"]
        lines.append(f"- chosen from {cv.get('trials', 1)} candidate setting(s) per fold by validation loss only "
                     f"(`lolzoo fit-cv`: {cv.get('folds')} folds × seeds {cv.get('seeds')}); the test folds never "
                     f"took part in the choice")
    return "\n".join(lines)


def _model_rows(table: pd.DataFrame, model: str) -> dict:
    return {r.metric: r for r in table.itertuples(index=False) if r.row == model}


def _evaluation_section(run: PublishedRun, info: dict, table: pd.DataFrame, reliability_file: Path | None) -> str:
    kind, task = info["model"]["kind"], info["task"]["kind"]
    group = Group(str(info.get("zoo", {}).get("name")), task, tuple(info["task"]["targets"]))
    rows = {(r.row, r.metric): r for r in table.itertuples(index=False)}
    own = run.metrics.get("metrics", {}).get("test", {})
    runs = int(max((r.runs for (row, _), r in rows.items() if row == kind), default=0))
    fixed = any(r.scope == SEEDS_ONLY for (row, _), r in rows.items() if row == kind)
    header = (f"| metric | {display_name(kind)}: mean [95% interval] | {display_name(BASELINE)} | "
              f"model − baseline (paired) | noise ceiling | published run (fold {run.fold}, seed {run.seed}) |")
    lines = ["## Evaluation", "", _scope_text(run, runs, fixed), "", header, "|---|---|---|---|---|---|"]
    for name in HEADLINE_METRICS[task]:
        model, baseline = rows.get((kind, name)), rows.get((BASELINE, name))
        ceiling = rows.get((CEILING, name))
        lines.append(f"| {METRIC_NAMES.get(name, name)} | {_cell(model)} | {_cell(baseline)} | "
                     f"{_difference(model, baseline, name)} | {_ceiling_cell(ceiling)} | {_value(own.get(name))} |")
    lines += ["", _metric_legend(), "", ceiling_text(group, table, reliability_file)]
    return "\n".join(lines)


def _scope_text(run: PublishedRun, runs: int, fixed: bool) -> str:
    if run.cv is None or runs <= 1:
        return ("This model is one `lolzoo fit` run on one split: **no cross-validation interval exists for it**. "
                "The numbers are that split's test LoRAs; another split or seed would give others.")
    scope = ("seeds on one fixed split: the interval covers seed variation only, not which LoRAs were tested"
             if fixed else "folds × seeds: a t interval with the Nadeau-Bengio corrected variance, since the folds "
             "share most of their training LoRAs")
    return (f"Test metrics of {runs} cross-validated runs, each its mean and 95% interval over {scope}. They are "
            f"the numbers `lolzoo compare` reports for this `lolzoo fit-cv` folder. The published model is one of "
            f"those runs; its own column scores it on its fold's held-out test LoRAs, which it never saw in "
            f"training or selection.")


def _cell(row) -> str:
    return "—" if row is None else cell_text(row._replace(mark=""), DIGITS)


def _value(value) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else _decimal(float(value), DIGITS)


def _difference(model, baseline, metric: str) -> str:
    """The paired difference model − baseline the interval table holds (on whichever of the two
    rows is not the best), and a verdict: better, worse or not distinguishable."""
    if model is None or baseline is None:
        return "—"
    if _finite(model.difference):
        mean, low, high = model.difference, model.difference_low, model.difference_high
    elif _finite(baseline.difference):  # the model is the best row: the table holds baseline − model
        mean, low, high = -baseline.difference, -baseline.difference_high, -baseline.difference_low
    else:
        return "—"
    if not (_finite(low) and _finite(high)):
        return f"{_signed(mean)} (one run, no verdict)"
    if low > 0 or high < 0:
        verdict = "better" if (mean > 0) == HIGHER_IS_BETTER[metric] else "worse"
    else:
        verdict = "not distinguishable"
    return f"{_signed(mean)} [{_signed(low)}, {_signed(high)}]: {verdict}"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "") + _decimal(value, DIGITS)


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _ceiling_cell(row) -> str:
    if row is None:
        return "—"
    return "exact" if row.status == EXACT else cell_text(row, DIGITS)


def _metric_legend() -> str:
    return ("MSE: mean squared error in label units; R²: coefficient of determination; τ: Kendall's tau-b; BCE: "
            "binary cross-entropy; acc: accuracy (mean over labels for multilabel); AUROC: mean over labels. "
            "The trivial baseline predicts the training mean, each label's training rate, or the majority class, "
            "scored on the same test LoRAs. The paired difference compares the two on the same folds and seeds; "
            "'not distinguishable' means its 95% interval contains 0.")


def ceiling_text(group: Group, table: pd.DataFrame, reliability_file: Path | None) -> str:
    ceilings = table[table["row"] == CEILING]
    if not ceilings.empty and (ceilings["status"] == EXACT).all():
        return ("Noise ceiling: exact. The labels are data labels, fixed by construction: no measurement noise "
                "limits how well they can be predicted.")
    if not ceilings.empty:
        method = "; ".join(sorted(set(ceilings["scope"].astype(str)))) or "a repeated measurement"
        return (f"Noise ceiling: the best R² and τ any predictor can reach against one measurement of "
                f"{', '.join(group.targets)}, from how repeatable the label is ({method}; "
                f"`{reliability_file}`), with its bootstrap interval.")
    if reliability_file is None:
        return ("Noise ceiling: not measured (no reliability file was given: `lolzoo reliability` measures how "
                "repeatable the labels are, and `lolzoo export-model --reliability` puts the ceiling here).")
    return f"Noise ceiling: not measured for {', '.join(group.targets)} in `{reliability_file}`."


def _usage_section(trained: TrainedModel, folder_name: str) -> str:
    outputs = torch.zeros(1, trained.task.out_dim)
    example = prediction_record(Path("path/to/lora"), Path(folder_name), trained,
                                Prediction(trained.task.describe(outputs)[0], []), 0.01)
    return ("## Use it\n\nWith lolzoo installed, score LoRA files or folders (PEFT, diffusers or kohya; other "
            "folders are searched):\n\n"
            f"```bash\nlolzoo predict --model {folder_name} path/to/lora\n```\n\n"
            "One JSON line per LoRA on stdout (`--format csv` or `--format table` for others), e.g. (the numbers "
            "illustrate the format: a zero network output, the training mean or an even chance):\n\n"
            f"```json\n{json.dumps(jsonable(example))}\n```\n\n"
            "A LoRA the model cannot read is refused with one line on stderr (`lolzoo predict: refused PATH: "
            "reason`) and the others are still scored; the exit status is 1 when any was refused.")


def _limitations_section(trained: TrainedModel) -> str:
    model, info = trained.model, trained.info
    base = base_identity(info)["name"]
    settings = info.get("training", {}).get("settings", {})
    if model.rank_agnostic:
        rank = (f"Rank: trained on a zoo of rank {trained.rank} (its highest); the {model.kind} model takes any "
                f"rank: a lower one is zero-padded (exact), a higher one is scored with a notice, outside what "
                f"training saw.")
    else:
        rank = (f"Rank: {trained.rank} only. The {model.kind} model's input size is fixed by its zoo's rank; "
                f"LoRAs of another rank are refused.")
    if settings.get("train_ranks"):
        rank += f" It was trained on LoRAs of rank {settings['train_ranks']} only."
    dora = ("DoRA: trained on DoRA adapters; it reads each module's magnitude vector and refuses plain LoRAs."
            if model.magnitudes else
            "DoRA: trained on plain LoRAs; a DoRA adapter is scored on its low-rank part only, with a notice.")
    if base and not is_location(base):
        refusal = (f"Base: LoRAs of `{base}` only. A LoRA that declares another base is refused "
                   f"(`--any-base` scores it anyway, with a notice; predictions do not transfer between bases).")
    else:
        named = f"names its base only by where it lay (`{base}`)" if base else "does not record its base"
        refusal = (f"Base: its zoo {named}, so `lolzoo predict` cannot check the base a LoRA declares: score only "
                   f"LoRAs of the base the zoo was made from.")
    modules = "\n".join(f"| {spec.name} | {spec.n} × {spec.m}{_kernel(spec.conv_kernel)} |" for spec in trained.modules)
    return ("## Limitations\n\n"
            f"- {refusal}\n"
            f"- Modules: the {len(trained.modules)} adapted modules below, with these shapes. A LoRA missing one, "
            "adapting another or of other shapes is refused; a whole component the model does not use (a text "
            "encoder's LoRA) is dropped with a notice.\n"
            f"- {rank}\n- {dora}\n"
            "- Scope: the scores above hold for LoRAs like the zoo's (its recipes: data, steps, ranks, "
            "hyperparameters). LoRAs trained otherwise may be scored far less well, and nothing here measures "
            "how much.\n\n"
            f"<details><summary>The {len(trained.modules)} trained modules (name, out × in)</summary>\n\n"
            f"| module | shape |\n|---|---|\n{modules}\n\n</details>")


def _kernel(conv_kernel) -> str:
    return f" (conv {conv_kernel})" if conv_kernel else ""


def _files_section(digests: dict[str, str]) -> str:
    rows = "\n".join(f"| {name} | `{digest}` |" for name, digest in digests.items())
    return ("## Files\n\n| file | sha256 |\n|---|---|\n" + rows + "\n\n"
            "model.json holds the model's configuration, its task (targets, the way back to label units), the "
            "trained layout and the zoo it was trained on; model.safetensors its weights and fitted buffers. "
            "Nothing needs unpickling.")


def _licence_section(info: dict) -> str:
    base = base_identity(info)["name"]
    named = f" (`{base}`)" if base else ""
    return ("## Licence\n\nThe model's weights and config: MIT, lolzoo's licence. The LoRAs it reads, and the "
            f"zoo it was trained on, come under the terms of their base model{named}; scoring them does not "
            "change those terms.")


def _citation_section() -> str:
    from lolzoo import __version__

    return ("## Citation\n\nThe LoL models are those of Putterman, Lim, Gelberg, Bronstein, Jegelka, Maron, "
            "\"Learning on LoRAs: GL-Equivariant Processing of Low-Rank Weight Spaces for Large Finetuned "
            f"Models\", LoG 2025:\n\n```bibtex\n{LOL_BIBTEX}\n```\n\n"
            f"This model was trained and exported with lolzoo {__version__} (zoos of LoRAs and the LoL models "
            "that learn on them):\n\n"
            "```bibtex\n@software{lolzoo,\n  title   = {lolzoo: zoos of LoRAs and the LoL models that learn on "
            f"them}},\n  version = {{{__version__}}}\n}}\n```")
