"""Predicted against true labels of the test LoRAs: one panel per (regression task, model),
so a reader sees where a model's R² comes from (a spread along the diagonal, or a flat line
at the mean). One seed per model: the lowest fitted."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from lolzoo.lol.metrics import r2_score
from lolzoo.lol.results import PREDICTIONS_FILE
from lolzoo.report.compare import MODEL_NAMES, Run, row_order

PANEL = 2.6  # inches per square panel
TITLE_WIDTH = 32


def regression_panels(runs: list[Run]) -> dict:
    """(group, model) -> the run of its lowest seed, for regression groups only."""
    chosen = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if run.group.task == "regression":
            chosen.setdefault((run.group, run.model), run)
    return chosen


def prediction_figure(runs: list[Run], split: str = "test"):
    """A matplotlib Figure, or None when no run is a regression."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = regression_panels(runs)
    if not panels:
        return None
    groups = sorted({group for group, _ in panels}, key=lambda g: g.targets)
    models = row_order({model for _, model in panels})
    rows = [(group, target) for group in groups for target in group.targets]
    figure, axes = plt.subplots(len(rows), len(models), figsize=(PANEL * len(models), PANEL * len(rows)),
                                squeeze=False, constrained_layout=True)
    for row, (group, target) in enumerate(rows):
        for col, model in enumerate(models):
            axis = axes[row][col]
            run = panels.get((group, model))
            if run is None:
                axis.set_visible(False)
                continue
            predictions = pd.read_parquet(run.folder / PREDICTIONS_FILE)
            points = predictions[(predictions["split"] == split) & (predictions["target"] == target)
                                 & predictions["label"].notna()]
            truth, guess = points["label"].to_numpy(float), points["prediction"].to_numpy(float)
            axis.scatter(truth, guess, s=8, alpha=0.7, color="#4878a8")
            low, high = np.nanmin([truth.min(), guess.min()]), np.nanmax([truth.max(), guess.max()])
            axis.plot([low, high], [low, high], color="#b03030", linewidth=1, linestyle="--")
            r2 = r2_score(guess, truth) if len(truth) > 1 else math.nan
            axis.set_title(textwrap.fill(f"{MODEL_NAMES.get(model, model)} · {target}: R² {r2:.2f}", TITLE_WIDTH),
                           fontsize=8)
            axis.tick_params(labelsize=7)
            if col == 0:
                axis.set_ylabel("predicted", fontsize=8)
            if row == len(rows) - 1:
                axis.set_xlabel("true", fontsize=8)
    zoo = groups[0].zoo
    figure.suptitle(f"{zoo}: predicted vs true, {split} split (seed {min(r.seed for r in panels.values())})",
                    fontsize=10)
    return figure
