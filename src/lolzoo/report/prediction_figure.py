"""Predicted against true labels of the test LoRAs: one panel per (regression task, model),
so a reader sees where a model's R² comes from (a spread along the diagonal, or a flat line
at the mean). One seed per model: the lowest fitted; with cross-validated fits, every fold's
test LoRAs at that seed (each LoRA is tested in one fold), so the panel shows all of them."""

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
    """(group, model) -> the runs of its lowest seed (one per fold), for regression groups only."""
    lowest = {}
    for run in runs:
        if run.group.task == "regression":
            key = (run.group, run.model)
            lowest[key] = min(lowest.get(key, run.seed), run.seed)
    chosen = {}
    for run in sorted(runs, key=lambda r: r.fold):
        key = (run.group, run.model)
        if key in lowest and run.seed == lowest[key]:
            chosen.setdefault(key, []).append(run)
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
            chosen = panels.get((group, model))
            if chosen is None:
                axis.set_visible(False)
                continue
            predictions = pd.concat([pd.read_parquet(run.folder / PREDICTIONS_FILE) for run in chosen],
                                    ignore_index=True)
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
    seeds = sorted({run.seed for chosen in panels.values() for run in chosen})
    folds = max(len(chosen) for chosen in panels.values())
    tested = f"{split} split of each of {folds} folds" if folds > 1 else f"{split} split"
    figure.suptitle(f"{zoo}: predicted vs true, {tested} (seed {', '.join(map(str, seeds))})", fontsize=10)
    return figure
