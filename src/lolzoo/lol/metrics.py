"""Metrics in label units, shared by trained models and the trivial baselines of `lolzoo compare`.

All take plain numpy arrays and return Python floats; NaN marks a metric that is undefined
on the data given (R² of a constant target, AUROC of a label with one class).
"""

from __future__ import annotations

import math

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # start index of each run of equal values, and the run every sorted position belongs to
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    run = np.cumsum(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])) - 1
    ends = np.concatenate([starts[1:], [len(values)]])
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = mean_rank[run]
    return ranks


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney U) formula; ties count one half."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    rank_sum = average_ranks(scores)[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def r2_score(predictions: np.ndarray, truth: np.ndarray) -> float:
    """1 - SS_res / SS_tot, with the mean of the data evaluated (as scikit-learn)."""
    truth = np.asarray(truth, dtype=np.float64)
    total = float(((truth - truth.mean()) ** 2).sum())
    if len(truth) == 0 or total == 0.0:
        return math.nan
    return 1.0 - float(((truth - np.asarray(predictions, dtype=np.float64)) ** 2).sum()) / total


def kendall_tau(predictions: np.ndarray, truth: np.ndarray, block: int = 512) -> float:
    """Kendall's tau-b (the paper reports it beside R²); O(n²) pairs, evaluated in row blocks."""
    x = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    concordance = x_untied = y_untied = 0.0
    for start in range(0, len(x), block):  # every pair is counted twice; the ratio does not mind
        sx = np.sign(x[start:start + block, None] - x[None, :])
        sy = np.sign(y[start:start + block, None] - y[None, :])
        concordance += float((sx * sy).sum())
        x_untied += float(np.abs(sx).sum())
        y_untied += float(np.abs(sy).sum())
    if x_untied == 0 or y_untied == 0:
        return math.nan
    return concordance / math.sqrt(x_untied * y_untied)


def regression_metrics(predictions: np.ndarray, truth: np.ndarray, targets: list[str]) -> dict:
    """MSE, R² and Kendall's tau per target (label units) and their mean over targets."""
    per_target = {
        name: {"mse": float(np.mean((predictions[:, t] - truth[:, t]) ** 2)),
               "r2": r2_score(predictions[:, t], truth[:, t]),
               "kendall_tau": kendall_tau(predictions[:, t], truth[:, t])}
        for t, name in enumerate(targets)
    }
    return {**_mean_over(per_target, ("mse", "r2", "kendall_tau")), "per_target": per_target}


def multilabel_metrics(probabilities: np.ndarray, truth: np.ndarray, targets: list[str]) -> dict:
    """Accuracy at probability 0.5 and AUROC per label, and their mean over labels (AUROC: over the defined ones)."""
    truth = truth.astype(bool)
    per_target = {
        name: {"accuracy": float(np.mean((probabilities[:, t] > 0.5) == truth[:, t])),
               "auroc": auroc(probabilities[:, t], truth[:, t])}
        for t, name in enumerate(targets)
    }
    return {**_mean_over(per_target, ("accuracy", "auroc")), "per_target": per_target}


def multiclass_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy of predicted classes (a class never seen in training counts as wrong)."""
    predicted, truth = np.asarray(predicted, dtype=object), np.asarray(truth, dtype=object)
    return {"accuracy": float(np.mean(predicted == truth)) if len(truth) else math.nan}


def _mean_over(per_target: dict, names: tuple[str, ...]) -> dict:
    means = {}
    for name in names:
        values = [m[name] for m in per_target.values() if not math.isnan(m[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means
