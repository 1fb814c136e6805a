"""The comparison table as a figure: per (task, metric) panel, each model's mean ± std over
runs (folds × seeds) as a bar, the trivial baseline as a dashed line, so a reader sees at a glance which
models learn something and by how much."""

from __future__ import annotations

import math
import textwrap

import pandas as pd

from lolzoo.report.compare import BASELINE, METRIC_NAMES, MODEL_NAMES, column_order, row_order

PANEL_WIDTH, PANEL_HEIGHT, PANELS_PER_ROW = 3.6, 2.8, 3
TITLE_WIDTH = 45  # characters of a panel title's line at its font size


def comparison_figure(long: pd.DataFrame, title: str):
    """A matplotlib Figure of the long comparison frame (lolzoo.report.compare.comparison)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: jobs have no display
    from matplotlib import pyplot as plt

    panels = column_order(long)
    rows = math.ceil(len(panels) / PANELS_PER_ROW)
    cols = min(len(panels), PANELS_PER_ROW)
    figure, axes = plt.subplots(rows, cols, figsize=(PANEL_WIDTH * cols, PANEL_HEIGHT * rows),
                                squeeze=False, constrained_layout=True)
    cells = {(r.model, r.group, r.metric): r for r in long.itertuples()}
    models = [m for m in row_order(set(long["model"])) if m != BASELINE]
    for axis, (group, metric) in zip(axes.flat, panels):
        found = [(m, cells[(m, group, metric)]) for m in models if (m, group, metric) in cells]
        names = [MODEL_NAMES.get(m, m).replace("MLP + ", "+") for m, _ in found]
        means = [c.mean for _, c in found]
        axis.bar(range(len(found)), [0 if math.isnan(v) else v for v in means],
                 yerr=[0 if math.isnan(c.std) else c.std for _, c in found], capsize=3, color="#4878a8")
        for x, value in enumerate(means):
            if math.isnan(value):  # e.g. τ of a constant prediction: say so rather than draw a 0
                axis.text(x, 0, "undefined", rotation=90, ha="center", va="bottom", fontsize=7, color="#666")
        axis.set_xticks(range(len(found)), names, rotation=30, ha="right", fontsize=8)
        baseline = cells.get((BASELINE, group, metric))
        if baseline is not None and not math.isnan(baseline.mean):
            axis.axhline(baseline.mean, color="#b03030", linestyle="--", linewidth=1, label="trivial baseline")
            axis.legend(fontsize=7, loc="lower right")
        axis.set_title(textwrap.fill(f"{group.task}: {group.targets_label}", TITLE_WIDTH), fontsize=8)
        axis.set_ylabel(METRIC_NAMES.get(metric, metric), fontsize=8)
        axis.tick_params(axis="y", labelsize=7)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return figure

