"""The comparison table with intervals (issue 18): per (zoo, task) column group and headline
metric, one row per LoL model, the ridge reference, the trivial baseline and the noise ceiling.

Each model cell is the mean and 95% interval of the metric over folds × seeds at train
fraction 1.0 (lolzoo.report.intervals.metric_interval; a single fold is the fixed split, whose
interval covers seeds only), and a mark from intervals.MARKS: the best model of the column by
mean, or whether the paired difference to it on the same folds and seeds excludes 0. The
reference and the baseline are deterministic (one run per fold); their differences are paired
with every seed of the best model on the same fold. A run whose metric is undefined (τ of a
constant prediction) is left out; a cell with no defined run shows "—" and takes no part.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lolzoo.report.ceilings import EXACT, group_ceilings
from lolzoo.report.compare import (BASELINE, BASELINE_NAME, HEADLINE_METRICS, METRIC_NAMES, MODEL_NAMES,
                                   _decimal)
from lolzoo.report.cv_scores import DETERMINISTIC, FULL, REFERENCE, REFERENCE_NAME, Scores, pairing_table
from lolzoo.report.intervals import FOLDS_X_SEEDS, MARKS, SEEDS_ONLY, metric_interval, paired_differences

HIGHER_IS_BETTER = {"r2": True, "kendall_tau": True, "accuracy": True, "auroc": True, "mse": False, "loss": False}
CEILING = "ceiling"
CEILING_NAME = "noise ceiling (label repeatability)"
CSV_COLUMNS = ["zoo", "task", "targets", "metric", "row", "name", "mean", "low", "high", "runs", "scope", "mark",
               "difference", "difference_low", "difference_high", "pairs", "status"]
MARK_TEXT = {"best": " (best)", "≈": " ≈", "?": " ?", "": ""}  # how a mark follows a cell's numbers


def interval_table(scores: Scores, reliability: dict | None = None, confidence: float = 0.95,
                   train_fraction: float = FULL) -> pd.DataFrame:
    """Long table, one row per (group, metric, row): CSV_COLUMNS plus `group` (the Group)."""
    table = scores.table[np.isclose(scores.table["train_fraction"], train_fraction)]
    out = []
    for (group, metric), column in table.groupby(["group", "metric"], sort=False):
        out += _column_rows(group, metric, column, confidence)
    for group in dict.fromkeys(table["group"]):
        for metric, ceiling in group_ceilings(group, reliability or {}).items():
            out.append({**_where(group, metric), "row": CEILING, "name": CEILING_NAME, "status": ceiling.status,
                        "mean": ceiling.value, "low": ceiling.low, "high": ceiling.high, "scope": ceiling.method})
    return pd.DataFrame(out, columns=["group", *CSV_COLUMNS])


def _where(group, metric) -> dict:
    return {"group": group, "zoo": group.zoo, "task": group.task, "targets": ",".join(group.targets),
            "metric": metric}


def _column_rows(group, metric, column: pd.DataFrame, confidence: float) -> list[dict]:
    defined = column[np.isfinite(column["value"].to_numpy(dtype=np.float64))]
    fixed_split = column["fold"].nunique() == 1
    rows = {}
    for model in dict.fromkeys(column["model"]):
        own = defined[defined["model"] == model]
        row = {**_where(group, metric), "row": model, "name": display_name(model), "runs": len(own),
               "scope": SEEDS_ONLY if fixed_split else FOLDS_X_SEEDS, "mark": "", "status": ""}
        if len(own):
            interval = metric_interval(own["value"], own["n_train"], own["n_test"], confidence,
                                       fixed_split=fixed_split, metric=metric)
            row.update(mean=interval.mean, low=interval.low, high=interval.high)
        else:
            row.update(mean=math.nan, low=math.nan, high=math.nan, mark="")
        rows[model] = row
    paired = pairing_table(defined)
    if paired["model"].nunique() >= 1:
        best = _best(paired, HIGHER_IS_BETTER[metric])
        runs = {m: set(zip(rows_of["fold"], rows_of["seed"])) for m, rows_of in paired.groupby("model")}
        sharing = [m for m in runs if m == best or runs[m] & runs[best]]
        for comparison in paired_differences(paired[paired["model"].isin(sharing)], HIGHER_IS_BETTER[metric],
                                             confidence):
            row = rows[comparison.model]
            if comparison.reference:
                row["mark"] = "best"
                continue
            row["mark"] = {None: "?", True: "", False: "≈"}[comparison.significant]
            difference = comparison.difference
            row.update(difference=difference.mean, difference_low=difference.low, difference_high=difference.high,
                       pairs=comparison.pairs)
        for model in set(paired["model"]) - set(sharing):
            rows[model]["mark"] = "?"  # no (fold, seed) in common with the best: no verdict
    return list(rows.values())


def _best(paired: pd.DataFrame, higher_is_better: bool) -> str:
    """The best model as intervals.paired_differences picks it (mean over its runs, ties by name)."""
    means = paired.groupby("model", sort=True)["value"].mean()
    return str(means.sort_values(ascending=not higher_is_better, kind="stable").index[0])


def display_name(row: str) -> str:
    return {BASELINE: BASELINE_NAME, REFERENCE: REFERENCE_NAME, CEILING: CEILING_NAME}.get(
        row, MODEL_NAMES.get(row, row))


def row_order(rows) -> list[str]:
    """The ceiling first (the most any model can reach), the LoL models, the reference, the baseline."""
    rows = set(rows)
    known = [m for m in MODEL_NAMES if m in rows]
    others = sorted(rows - set(MODEL_NAMES) - {CEILING, REFERENCE, BASELINE})
    return ([CEILING] if CEILING in rows else []) + known + others + \
        [r for r in (REFERENCE, BASELINE) if r in rows]


def columns(long: pd.DataFrame) -> list[tuple]:
    groups = sorted(set(long["group"]), key=lambda g: (g.zoo, g.task, g.targets))
    return [(g, name) for g in groups for name in HEADLINE_METRICS[g.task]]


def cell_text(row, digits: int = 3) -> str:
    if row is None:
        return ""
    if row.row == CEILING:
        if row.status == EXACT:
            return "exact"
        return f"{_decimal(row.mean, digits)} [{_decimal(row.low, digits)}, {_decimal(row.high, digits)}]"
    if row.runs == 0 or math.isnan(row.mean):
        return "—"
    if row.runs == 1:
        numbers = f"{_decimal(row.mean, digits)} (one run)"
    else:
        numbers = f"{_decimal(row.mean, digits)} [{_decimal(row.low, digits)}, {_decimal(row.high, digits)}]"
    return numbers + MARK_TEXT.get(row.mark, f" {row.mark}")


def formatted(long: pd.DataFrame, digits: int = 3) -> tuple[list[str], list[list[str]]]:
    index = {(r.row, r.group, r.metric): r for r in long.itertuples()}
    cols = columns(long)
    header = ["model"] + [f"{group.label} · {METRIC_NAMES.get(name, name)}" for group, name in cols]
    body = [[display_name(row)] + [cell_text(index.get((row, group, name)), digits) for group, name in cols]
            for row in row_order(set(long["row"]))]
    return header, body


def legend(long: pd.DataFrame, split: str = "test", confidence: float = 0.95) -> list[str]:
    """The paragraphs under the table: what the numbers, the marks and the rows are."""
    models = long[~long["row"].isin([CEILING, *DETERMINISTIC])]
    runs = ", ".join(str(n) for n in sorted(set(models["runs"].astype(int))) if n) or "none"
    scopes = sorted(set(long.loc[long["row"] != CEILING, "scope"]))
    fixed = sorted({r.group.label for r in long.itertuples() if r.scope == SEEDS_ONLY})
    marks = "; ".join(f"{MARK_TEXT[mark].strip() or 'no mark'}: {meaning}" for mark, meaning in MARKS.items()
                      if mark != "best") + "; (best): the best row of the column by mean"
    paragraphs = [
        f"{split} split at the full training set. Each cell: mean [{confidence:.0%} interval] over "
        f"{' and '.join(scopes) if scopes else 'folds × seeds'}; runs per LoL-model cell: {runs}. "
        "Folds × seeds intervals are t intervals with the Nadeau-Bengio corrected variance, since folds share "
        "most of their training LoRAs; a fixed split (one fold) gives a plain t interval over seeds, which covers "
        "seed variation only, not which LoRAs were tested"
        + (f" (here: {'; '.join(fixed)})." if fixed else ".")
        + " Bounds are cut at the metric's range (accuracy and AUROC in [0, 1], R² at most 1, τ in [-1, 1]).",
        f"Marks, from paired differences to the best row of the column on the same folds and seeds: {marks}. "
        "The CSV beside this table has every mean, bound, difference and run count.",
        f"{REFERENCE_NAME}: a ridge regression (logistic for classes) on each module's log Frobenius norm and top "
        "singular values of ΔW, its penalty chosen on validation rows, fitted on the same folds: what scale alone "
        "predicts. A LoL model that does not beat it has learned nothing beyond scale.",
        f"{BASELINE_NAME}: the training mean, each label's training rate, or the majority class, scored per fold "
        "on the same test rows. The reference and the baseline are deterministic: one run per fold, paired with "
        "every seed of the other model on that fold.",
        f"{CEILING_NAME}: the best R² and Kendall τ any predictor can reach against one measurement of a measured "
        "label, with its bootstrap interval (lolzoo.report.reliability: test-retest under another evaluation seed, "
        "or split-half Spearman-Brown corrected); several labels: the mean of their ceilings. \"exact\": data "
        "labels, fixed by construction; blank: not measured.",
        "— : undefined (e.g. τ of a constant prediction). MSE: mean squared error in label units, R²: coefficient "
        "of determination, τ: Kendall's tau-b, BCE: binary cross-entropy, acc: accuracy (mean over labels for "
        "multilabel), AUROC: mean over labels.",
    ]
    return paragraphs


def markdown(long: pd.DataFrame, split: str = "test", digits: int = 3, extra: str = "") -> str:
    header, body = formatted(long, digits)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines + [""] + [p + "\n" for p in legend(long, split)]) + extra


def html(long: pd.DataFrame, split: str = "test", digits: int = 3) -> str:
    from lolzoo.report.html_table import html_page

    header, body = formatted(long, digits)
    return html_page(pd.DataFrame(body, columns=header), " ".join(legend(long, split)))


def csv_frame(long: pd.DataFrame) -> pd.DataFrame:
    """The long table as CSV rows: group, metric, then rows in the table's order."""
    order = {row: i for i, row in enumerate(row_order(set(long["row"])))}
    keys = {(g, m): i for i, (g, m) in enumerate(columns(long))}
    ordered = long.assign(_c=[keys[(g, m)] for g, m in zip(long["group"], long["metric"])],
                          _r=long["row"].map(order)).sort_values(["_c", "_r"], kind="stable")
    return ordered.loc[:, CSV_COLUMNS].astype({"runs": "Int64", "pairs": "Int64"}).reset_index(drop=True)
