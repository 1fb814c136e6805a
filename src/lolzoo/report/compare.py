"""Fitted models read from their folders, and the mean ± std tables of the paper's tables 2-5.

`read_runs` reads every `lolzoo fit` folder a path stands for: a plain fit folder, or each
fold*/seed* fit of a `lolzoo fit-cv` folder (lolzoo.lol.results.fit_folders). A run is one
(fold, seed); a plain fit is fold 0 unless `lolzoo fit --folds K --fold k` made it.

`comparison` (used by `lolzoo transfer` and `lolzoo plot-comparison`; `lolzoo compare` has the
interval table of lolzoo.report.comparison_table): one row per model kind, one column group per
(zoo, task, targets), each cell the mean ± std of a test metric over the runs found (population
std, as the authors' code reports it). A last row is the trivial baseline, computed from the
predictions.parquet of each fold's first run: the train mean (regression), the train rate of
each label as its probability (multilabel), the train majority class (multiclass), scored on
the same split with the same metrics, so a reader sees how much of each number is learned.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lolzoo.errors import LolzooError
from lolzoo.lol import metrics as label_metrics
from lolzoo.lol.results import CV_FILE, METRICS_FILE, PREDICTIONS_FILE, fit_folders

# the paper's columns (MSE and R², loss and accuracy, accuracy) and a rank measure beside them
HEADLINE_METRICS = {"regression": ("mse", "r2", "kendall_tau"), "multilabel": ("loss", "accuracy", "auroc"),
                    "multiclass": ("accuracy",)}
METRIC_NAMES = {"mse": "MSE", "r2": "R²", "kendall_tau": "τ", "loss": "BCE", "accuracy": "acc", "auroc": "AUROC"}
PROBABILITY_FLOOR = 1e-7  # a train rate of 0 or 1 would give an infinite baseline loss
MODEL_NAMES = {"mlp": "MLP", "o-align": "MLP + O-Align", "svd": "MLP + SVD", "dense": "MLP + Dense",
               "glnet": "GL-net"}
BASELINE = "baseline"
BASELINE_NAME = "trivial baseline (train mean / rate / majority)"


class CompareError(LolzooError):
    """A folder that is not a fit output, or two runs that claim the same cell and seed."""


@dataclass(frozen=True)
class Group:
    """A column group: one zoo, one task on the same target columns."""
    zoo: str
    task: str
    targets: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.zoo} · {self.task}: {self.targets_label}"

    @property
    def targets_label(self) -> str:
        """Up to three names; a longer list as its first name and a count (has_ACTAAP … (19 labels))."""
        if len(self.targets) <= 3:
            return ", ".join(self.targets)
        return f"{self.targets[0]} … {self.targets[-1]} ({len(self.targets)} labels)"


@dataclass
class Run:
    folder: Path
    model: str
    seed: int
    group: Group
    scores: dict  # headline metric -> value, on the compared split
    baseline: dict  # the same metrics of the trivial baseline
    fold: int = 0  # the cross-validation fold tested (0: the fixed split)


def read_run(folder: str | Path, split: str = "test") -> Run:
    folder = Path(folder)
    metrics_path, predictions_path = folder / METRICS_FILE, folder / PREDICTIONS_FILE
    if not metrics_path.is_file() or not predictions_path.is_file():
        raise CompareError(f"{folder}: not a `lolzoo fit` output (needs {METRICS_FILE} and {PREDICTIONS_FILE})")
    try:
        document = json.loads(metrics_path.read_text())
        settings = document["settings"]
        group = Group(settings["zoo_name"], settings["task"], tuple(settings["targets"]))
        scored = document["metrics"][split]
        scores = {name: _number(scored.get(name)) for name in HEADLINE_METRICS[group.task]}
        model, seed, fold = settings["model"], int(settings["seed"]), int(settings.get("fold") or 0)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CompareError(f"{metrics_path}: not a metrics file of `lolzoo fit` ({err})") from err
    predictions = pd.read_parquet(predictions_path)
    return Run(folder, model, seed, group, scores, baseline_scores(predictions, group, split), fold)


def expand(paths) -> list[Path]:
    """The `lolzoo fit` folders the paths stand for, in order: a fit folder itself, a fit-cv folder
    its fold*/seed* fits. A fit-cv folder of the reference model (it writes no fits) is skipped."""
    folders = []
    for path in map(Path, paths):
        found = fit_folders(path)
        if not found and not _is_reference_cv(path):
            raise CompareError(f"{path}: neither a `lolzoo fit` folder (no {METRICS_FILE}) nor a `lolzoo fit-cv` "
                               f"folder with fold*/seed* fits (no {CV_FILE}, or no fits under it)")
        folders += found
    return folders


def read_runs(paths, split: str = "test") -> list[Run]:
    """Every run the paths stand for (see `expand`), read."""
    return [read_run(folder, split) for folder in expand(paths)]


def _is_reference_cv(path: Path) -> bool:
    try:
        return json.loads((path / CV_FILE).read_text())["settings"]["model"] == "reference"
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return False


def baseline_scores(predictions: pd.DataFrame, group: Group, split: str = "test") -> dict:
    """The headline metrics of the trivial baseline fitted on the train rows of `predictions`."""
    labelled = predictions[predictions["label"].notna()]
    train, scored = labelled[labelled["split"] == "train"], labelled[labelled["split"] == split]
    targets = list(group.targets)
    truth = np.stack([scored.loc[scored["target"] == t, "label"].to_numpy() for t in targets], axis=1)
    if group.task == "multiclass":
        counts = Counter(train["label"].tolist())
        majority = min(counts, key=lambda c: (-counts[c], str(c)))  # ties: the first by name, reproducibly
        found = label_metrics.multiclass_metrics(np.full(len(truth), majority, dtype=object), truth[:, 0])
    else:
        constant = np.array([train.loc[train["target"] == t, "label"].astype("float64").mean() for t in targets])
        guesses = np.tile(constant, (len(truth), 1))
        truth = truth.astype("float64")
        if group.task == "regression":
            found = label_metrics.regression_metrics(guesses, truth, targets)
        else:
            found = label_metrics.multilabel_metrics(guesses, truth, targets)
            p = np.clip(guesses, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
            found["loss"] = float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))  # as BCE with logits
    return {name: found[name] for name in HEADLINE_METRICS[group.task]}


def comparison(runs: list[Run]) -> pd.DataFrame:
    """Long table: row (model kind or 'baseline'), group, metric, mean, std, seeds (the number
    of runs: folds × seeds; the baseline's: folds, as it does not depend on the seed)."""
    cells: dict[tuple, list[float]] = defaultdict(list)
    seen: dict[tuple, Path] = {}
    baseline_folds = set()
    for run in runs:
        key = (run.model, run.group, run.fold, run.seed)
        if key in seen:
            fold = f"fold {run.fold}, " if run.fold else ""
            raise CompareError(f"{seen[key]} and {run.folder} are both {run.model} on {run.group.label} "
                               f"with {fold}seed {run.seed}; compare one of them")
        seen[key] = run.folder
        first_of_fold = (run.group, run.fold) not in baseline_folds
        baseline_folds.add((run.group, run.fold))
        for name in HEADLINE_METRICS[run.group.task]:
            cells[(run.model, run.group, name)].append(run.scores[name])
            if first_of_fold:
                cells[(BASELINE, run.group, name)].append(run.baseline[name])
    rows = []
    for (model, group, name), values in cells.items():
        finite = [v for v in values if not math.isnan(v)]
        rows.append({"model": model, "group": group, "metric": name,
                     "mean": float(np.mean(finite)) if finite else math.nan,
                     "std": float(np.std(finite)) if finite else math.nan,
                     "seeds": len(values)})
    return pd.DataFrame(rows)


def row_order(models) -> list[str]:
    known = [m for m in MODEL_NAMES if m in models]
    return known + sorted(m for m in models if m not in MODEL_NAMES and m != BASELINE) + \
        ([BASELINE] if BASELINE in models else [])


def column_order(long: pd.DataFrame) -> list[tuple[Group, str]]:
    groups = sorted(set(long["group"]), key=lambda g: (g.zoo, g.task, g.targets))
    return [(g, name) for g in groups for name in HEADLINE_METRICS[g.task]]


def wide_csv(long: pd.DataFrame) -> pd.DataFrame:
    """One row per model; per (group, metric) the columns `<group> | <metric> | mean/std/seeds`."""
    index = {(r.model, r.group, r.metric): r for r in long.itertuples()}
    table = []
    for model in row_order(set(long["model"])):
        row = {"model": model, "name": _display(model)}
        for group, name in column_order(long):
            cell = index.get((model, group, name))
            for part in ("mean", "std", "seeds"):
                row[f"{group.label} | {name} | {part}"] = getattr(cell, part) if cell else None
        table.append(row)
    return pd.DataFrame(table)


def formatted(long: pd.DataFrame, digits: int = 3) -> tuple[list[str], list[list[str]], str]:
    """The table as text: header, one row of cells per model, and the seeds-per-cell note."""
    index = {(r.model, r.group, r.metric): r for r in long.itertuples()}
    columns = column_order(long)
    header = ["model"] + [f"{group.label} · {METRIC_NAMES.get(name, name)}" for group, name in columns]
    rows, seed_counts = [], set()
    for model in row_order(set(long["model"])):
        cells = [_display(model)]
        for group, name in columns:
            cell = index.get((model, group, name))
            cells.append(_format(cell, digits))  # the baseline's spread is over folds only
            if cell is not None and model != BASELINE:
                seed_counts.add(cell.seeds)
        rows.append(cells)
    return header, rows, ", ".join(str(n) for n in sorted(seed_counts))


def legend(split: str, seeds: str) -> str:
    return (f"{split} split; mean ± std over runs (folds × seeds; runs per cell: {seeds}); — : undefined "
            f"(e.g. τ of a constant prediction). MSE: mean squared error in label units, R²: coefficient "
            f"of determination, τ: Kendall's tau-b, BCE: binary cross-entropy of the predicted probabilities, "
            f"acc: accuracy (mean over labels for multilabel), AUROC: mean over labels.")


def markdown(long: pd.DataFrame, split: str = "test", digits: int = 3, preface: str = "") -> str:
    """The table in Markdown; `preface` goes before the legend (what the columns are)."""
    header, rows, seeds = formatted(long, digits)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines + ["", preface + legend(split, seeds)]) + "\n"


def html(long: pd.DataFrame, split: str = "test", digits: int = 3, preface: str = "") -> str:
    """A standalone HTML page of the table (what the Snakemake report shows)."""
    from lolzoo.report.html_table import html_page

    header, rows, seeds = formatted(long, digits)
    return html_page(pd.DataFrame(rows, columns=header), preface + legend(split, seeds))


def _format(cell, digits: int, spread: bool = True) -> str:
    if cell is None:
        return ""
    if math.isnan(cell.mean):
        return "—"
    if cell.seeds == 1 or not spread:
        return _decimal(cell.mean, digits)
    return f"{_decimal(cell.mean, digits)} ± {_decimal(cell.std, digits)}"


def _decimal(value: float, digits: int) -> str:
    """Fixed digits, or scientific notation for a value those digits would show as 0 (an MSE of 1e-5)."""
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


def _display(model: str) -> str:
    return BASELINE_NAME if model == BASELINE else MODEL_NAMES.get(model, model)


def _number(value) -> float:
    return math.nan if value is None else float(value)
