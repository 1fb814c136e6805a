"""Rank generalisation (the paper's figure 4): models trained on LoRAs of some ranks only
(`lolzoo fit --train-ranks 4`), scored on the test LoRAs of every rank of the zoo, one
score per (task, model, rank), mean ± std over runs (a run is one fold × seed of the fit-cv
folders' fits, or one plain fit; the `seeds` column counts them). `loras`: the distinct test
LoRAs of that rank over the runs (with K folds, every LoRA of the rank once). The test split of
such a fit holds every LoRA of an unseen rank, and the test share of the trained ranks."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lolzoo.lol import metrics as label_metrics
from lolzoo.lol.results import METRICS_FILE, PREDICTIONS_FILE
from lolzoo.report.compare import MODEL_NAMES, Run, row_order

SCORE = {"regression": "r2", "multilabel": "accuracy", "multiclass": "accuracy"}
COLUMNS = ["task", "targets", "model", "name", "rank", "trained_on", "metric", "mean", "std", "seeds", "loras"]


def lora_ranks(zoo_path) -> pd.Series:
    """lora_id -> rank, from the zoo's rank column."""
    table = pq.read_table(zoo_path, columns=["lora_id", "rank"]).to_pandas()
    return table.set_index("lora_id")["rank"]


def score(task: str, test: pd.DataFrame, targets: tuple[str, ...]) -> float:
    """The headline score of one task on some test rows of predictions.parquet."""
    truth = np.stack([test.loc[test["target"] == t, "label"].to_numpy() for t in targets], axis=1)
    guess = np.stack([test.loc[test["target"] == t, "prediction"].to_numpy() for t in targets], axis=1)
    if task == "multiclass":
        return label_metrics.multiclass_metrics(guess[:, 0], truth[:, 0])["accuracy"]
    if task == "multilabel":
        return label_metrics.multilabel_metrics(guess.astype(float), truth.astype(float), list(targets))["accuracy"]
    return label_metrics.regression_metrics(guess.astype(float), truth.astype(float), list(targets))["r2"]


def rank_table(runs: list[Run], ranks: pd.Series) -> pd.DataFrame:
    cells = defaultdict(list)
    trained_on, counts = {}, {}
    for run in runs:
        settings = json.loads((run.folder / METRICS_FILE).read_text())["settings"]
        predictions = pd.read_parquet(run.folder / PREDICTIONS_FILE)
        test = predictions[(predictions["split"] == "test") & predictions["label"].notna()]
        test = test.assign(rank=test["lora_id"].map(ranks))
        for rank, rows in test.groupby("rank"):
            key = (run.group, run.model, int(rank))
            cells[key].append(score(run.group.task, rows, run.group.targets))
            counts.setdefault(key, set()).update(rows["lora_id"])
            trained_on[key] = settings.get("train_ranks")
    rows = []
    for (group, model, rank), values in cells.items():
        finite = [v for v in values if not np.isnan(v)]
        trained = trained_on[(group, model, rank)]
        rows.append({"task": group.task, "targets": group.targets_label, "model": model,
                     "name": MODEL_NAMES.get(model, model), "rank": rank,
                     "trained_on": "all" if trained is None else ",".join(map(str, trained)),
                     "metric": SCORE[group.task], "mean": np.mean(finite) if finite else np.nan,
                     "std": np.std(finite) if finite else np.nan, "seeds": len(values),
                     "loras": len(counts[(group, model, rank)])})
    order = {m: i for i, m in enumerate(row_order({r["model"] for r in rows}))}
    return (pd.DataFrame(rows, columns=COLUMNS)
            .sort_values(["targets", "model", "rank"], key=lambda c: c.map(order) if c.name == "model" else c)
            .reset_index(drop=True))


def rank_figure(table: pd.DataFrame, title: str):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    tasks = list(dict.fromkeys(zip(table["task"], table["targets"])))
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.2), squeeze=False,
                                constrained_layout=True)
    for axis, (task, targets) in zip(axes[0], tasks):
        part = table[(table["task"] == task) & (table["targets"] == targets)]
        for model, lines in part.groupby("model", sort=False):
            axis.errorbar(lines["rank"], lines["mean"], yerr=lines["std"].fillna(0), marker="o", capsize=3,
                          label=MODEL_NAMES.get(model, model))
        trained = part["trained_on"].iloc[0]
        for rank in ([] if trained == "all" else [int(r) for r in trained.split(",")]):
            axis.axvline(rank, color="#999", linestyle=":", linewidth=1)
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted(part["rank"].unique()), [str(r) for r in sorted(part["rank"].unique())])
        axis.set_xlabel(f"LoRA rank (dotted: trained on {trained})", fontsize=8)
        axis.set_ylabel(f"test {part['metric'].iloc[0]}", fontsize=8)
        axis.set_title(f"{task}: {targets}", fontsize=9)
        axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    return figure
