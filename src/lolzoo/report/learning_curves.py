"""Learning curves (issue 18, item 5): per task, every model's cross-validated headline score
(R² for regression, accuracy for multilabel and multiclass) at each training share that
`lolzoo fit-cv` ran (cv.json's train_fractions), against the mean number of training LoRAs
(train + val rows) at that share; the trivial baseline and the noise ceiling as horizontal
lines. A reader sees whether a bigger zoo would help, and how far the models are from what
the labels' noise allows.

Each point is the mean and 95% interval (error bar) over the runs at that share (intervals.metric_interval:
folds × seeds at the full share, folds at the selection seed below it; one fold = seeds only).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from lolzoo.report.ceilings import EXACT, group_ceilings
from lolzoo.report.compare import BASELINE, MODEL_NAMES
from lolzoo.report.comparison_table import display_name, row_order
from lolzoo.report.cv_scores import REFERENCE, Scores
from lolzoo.report.intervals import FOLDS_X_SEEDS, SEEDS_ONLY, metric_interval

SCORE = {"regression": "r2", "multilabel": "accuracy", "multiclass": "accuracy"}
SCORE_NAMES = {"r2": "R²", "accuracy": "accuracy"}
CEILING = "ceiling"
COLUMNS = ["zoo", "task", "targets", "model", "name", "metric", "train_fraction", "n_train", "mean", "low", "high",
           "runs", "scope"]
PANEL_WIDTH, PANEL_HEIGHT, PANELS_PER_ROW = 4.2, 3.2, 3
NO_SCORE = "no model has a defined test score here:\ntoo few test LoRAs, or a constant label"
COLORS = ["#4878a8", "#e0a030", "#60a060", "#b05050", "#8060a8", "#3a9a9a", "#808080"]


def curve_table(scores: Scores, reliability: dict | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (group, model, train fraction) with its mean and interval; the baseline at the
    full share; the ceiling per group (train_fraction NaN; mean NaN and scope "exact" for data labels)."""
    table = scores.table
    rows = []
    for group in dict.fromkeys(table["group"]):
        metric = SCORE[group.task]
        part = table[(table["group"] == group) & (table["metric"] == metric)]
        part = part[np.isfinite(part["value"].to_numpy(dtype=np.float64))]
        where = {"zoo": group.zoo, "task": group.task, "targets": group.targets_label, "metric": metric}
        for (model, fraction), runs in part.groupby(["model", "train_fraction"], sort=True):
            fixed = runs["fold"].nunique() == 1
            interval = metric_interval(runs["value"], runs["n_train"], runs["n_test"], confidence, fixed_split=fixed,
                                       metric=metric)
            rows.append({**where, "model": model, "name": display_name(model), "train_fraction": float(fraction),
                         "n_train": float(runs["n_train"].mean()), "mean": interval.mean, "low": interval.low,
                         "high": interval.high, "runs": interval.runs, "scope": SEEDS_ONLY if fixed else FOLDS_X_SEEDS})
        ceiling = group_ceilings(group, reliability or {}).get(metric)
        if ceiling is not None:
            exact = ceiling.status == EXACT
            rows.append({**where, "model": CEILING, "name": display_name(CEILING), "train_fraction": math.nan,
                         "n_train": math.nan, "mean": 1.0 if exact else ceiling.value,
                         "low": 1.0 if exact else ceiling.low, "high": 1.0 if exact else ceiling.high,
                         "runs": 0, "scope": EXACT if exact else ceiling.method})
    return pd.DataFrame(rows, columns=COLUMNS)


def undefined_groups(scores: Scores, table: pd.DataFrame) -> list[str]:
    """The groups of `scores` where no model has a defined score at any share in `table`."""
    models = table[~table["model"].isin((CEILING, BASELINE))]
    drawn = set(zip(models["zoo"], models["task"], models["targets"]))
    groups = dict.fromkeys(scores.table["group"])
    return [group.label for group in groups if (group.zoo, group.task, group.targets_label) not in drawn]


def note_figure(title: str, lines: list[str]):
    """A figure that says why there is no curve: every group's scores are undefined."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(PANEL_WIDTH * 1.5, PANEL_HEIGHT))
    axis.axis("off")
    axis.text(0.5, 0.5, NO_SCORE + "\n\n" + "\n".join(lines), ha="center", va="center", fontsize=8,
              transform=axis.transAxes, wrap=True)
    figure.suptitle(title, fontsize=10)
    return figure


def learning_curve_figure(table: pd.DataFrame, title: str):
    """A matplotlib Figure: a panel per (zoo, task, targets), a line per model over n_train."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = list(dict.fromkeys(zip(table["zoo"], table["task"], table["targets"])))
    cols = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / PANELS_PER_ROW)
    figure, axes = plt.subplots(rows, cols, figsize=(PANEL_WIDTH * cols, PANEL_HEIGHT * rows), squeeze=False,
                                constrained_layout=True)
    zoos = {zoo for zoo, _, _ in panels}
    for axis, (zoo, task, targets) in zip(axes.flat, panels):
        part = table[(table["zoo"] == zoo) & (table["task"] == task) & (table["targets"] == targets)]
        lines = [m for m in row_order(set(part["model"])) if m not in (CEILING, BASELINE)]
        if not lines:
            axis.text(0.5, 0.5, NO_SCORE, ha="center", va="center", fontsize=8, transform=axis.transAxes)
        for k, model in enumerate(lines):
            points = part[part["model"] == model].sort_values("n_train")
            color = COLORS[k % len(COLORS)]
            style = "--" if model == REFERENCE else "-"
            label = "ridge reference" if model == REFERENCE else MODEL_NAMES.get(model, model)
            spread = np.array([(points["mean"] - points["low"]).fillna(0).clip(lower=0),
                               (points["high"] - points["mean"]).fillna(0).clip(lower=0)])
            axis.errorbar(points["n_train"], points["mean"], yerr=spread, fmt=style, marker="o", markersize=3,
                          capsize=3, color=color, linewidth=1.2, label=label)
        for model, color, style, name in ((BASELINE, "#b03030", ":", "trivial baseline"),
                                           (CEILING, "black", "-", "noise ceiling")):
            found = part[part["model"] == model]
            if found.empty or math.isnan(found["mean"].iloc[0]):
                continue
            row = found.iloc[0]
            if model == CEILING and row["scope"] == EXACT:
                name = "ceiling: exact labels"
            axis.axhline(row["mean"], color=color, linestyle=style, linewidth=1, label=name)
            if model == CEILING and not math.isnan(row["low"]) and row["high"] > row["low"]:
                axis.axhspan(row["low"], row["high"], color="black", alpha=0.07, linewidth=0)
        metric = part["metric"].iloc[0]
        prefix = "" if len(zoos) == 1 else f"{zoo} · "
        axis.set_title(textwrap.fill(f"{prefix}{task}: {targets}", 50), fontsize=8)
        axis.set_xlabel("training LoRAs (train + val, mean over folds)", fontsize=8)
        axis.set_ylabel(f"test {SCORE_NAMES.get(metric, metric)}", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6, loc="best")
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return figure

