"""Accuracy per label of the multilabel tasks (face attributes, present classes, source
membership): for each label a bar per LoL model (mean over folds × seeds) and a tick for the trivial
baseline that always answers the label's majority in the training LoRAs, so a reader sees
which labels are learned and which only look learned because they are lopsided."""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict

import numpy as np
import pandas as pd

from lolzoo.lol.results import METRICS_FILE, PREDICTIONS_FILE
from lolzoo.report.compare import MODEL_NAMES, Run, row_order

LABEL_WIDTH, PANEL_HEIGHT = 0.55, 3.0  # inches per label, per panel
COLORS = ["#4878a8", "#e0a030", "#60a060", "#b05050", "#8060a8", "#808080"]


def majority_accuracy(predictions: pd.DataFrame, target: str, split: str) -> float:
    """Accuracy on `split` of always answering the training majority of one 0/1 label."""
    rows = predictions[(predictions["target"] == target) & predictions["label"].notna()]
    majority = float(rows.loc[rows["split"] == "train", "label"].astype(float).mean() >= 0.5)
    scored = rows.loc[rows["split"] == split, "label"].astype(float)
    return float((scored == majority).mean()) if len(scored) else float("nan")


def label_accuracies(runs: list[Run], split: str = "test") -> dict:
    """group -> {"models": {model: {label: mean accuracy over runs}}, "baseline": {label: acc}}.
    A run is one (fold, seed); the baseline does not depend on the seed, so it is scored once
    per fold (from that fold's first run) and averaged over the folds."""
    found = defaultdict(lambda: {"models": defaultdict(lambda: defaultdict(list)), "baseline": {}})
    for run in runs:
        if run.group.task != "multilabel":
            continue
        per_target = json.loads((run.folder / METRICS_FILE).read_text())["metrics"][split]["per_target"]
        entry = found[run.group]
        for label in run.group.targets:
            entry["models"][run.model][label].append(per_target[label]["accuracy"])
        if run.fold not in entry["baseline"]:
            predictions = pd.read_parquet(run.folder / PREDICTIONS_FILE)
            entry["baseline"][run.fold] = {label: majority_accuracy(predictions, label, split)
                                           for label in run.group.targets}
    return {group: {"models": {m: {label: float(np.nanmean(v)) for label, v in labels.items()}
                               for m, labels in entry["models"].items()},
                    "baseline": {label: float(np.nanmean([fold[label] for fold in entry["baseline"].values()]))
                                 for label in group.targets}}
            for group, entry in found.items()}


def label_figure(runs: list[Run], split: str = "test"):
    """A matplotlib Figure, or None when no run is a multilabel task."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    groups = label_accuracies(runs, split)
    if not groups:
        return None
    ordered = sorted(groups, key=lambda g: g.targets)
    width = max(6.0, LABEL_WIDTH * max(len(g.targets) for g in ordered))
    figure, axes = plt.subplots(len(ordered), 1, figsize=(width, PANEL_HEIGHT * len(ordered)),
                                squeeze=False, constrained_layout=True)
    for axis, group in zip(axes[:, 0], ordered):
        entry, labels = groups[group], list(group.targets)
        models = row_order(set(entry["models"]))
        step = 0.8 / len(models)
        x = np.arange(len(labels))
        for k, model in enumerate(models):
            axis.bar(x - 0.4 + step * (k + 0.5), [entry["models"][model][label] for label in labels], step,
                     label=MODEL_NAMES.get(model, model), color=COLORS[k % len(COLORS)])
        axis.scatter(x, [entry["baseline"][label] for label in labels], marker="_", s=400, color="black",
                     zorder=3, label="train majority")
        axis.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        axis.set_ylim(0, 1.3)  # headroom above 1 for the legend
        axis.set_yticks(np.linspace(0, 1, 6))
        axis.set_ylabel(f"{split} accuracy", fontsize=8)
        axis.set_title(textwrap.fill(f"{group.zoo} · {group.task}: {group.targets_label}", 90), fontsize=9)
        axis.legend(fontsize=7, ncol=len(models) + 1, loc="upper center", frameon=False)
    return figure
