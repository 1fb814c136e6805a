"""The scores the interval tables and learning curves read: one row per (group, model, fold,
seed, train fraction, metric), from `lolzoo fit-cv` folders or plain `lolzoo fit` folders.

- A fit-cv folder (cv.json, contract A of issue 18) gives every run its `runs` list holds:
  each fold and seed at every train fraction, the reference model's too (model "reference").
- A plain fit folder (metrics.json) is one run: its fold (`lolzoo fit --folds K --fold k`, or 0
  for the fixed split), its seed, train fraction 1.0. Several of them are pooled as they come:
  seeds of the fixed split give a seeds-only interval, fits of every fold a cross-validated one.

The trivial baseline is scored once per (group, fold), from the predictions.parquet of the
fold's lowest seed at train fraction 1.0 (its train rows give the mean / rate / majority, its
test rows score it): it does not depend on the seed, so it has one run per fold.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lolzoo.lol.results import CV_FILE, METRICS_FILE, PREDICTIONS_FILE
from lolzoo.report.compare import BASELINE, HEADLINE_METRICS, CompareError, Group, baseline_scores

REFERENCE = "reference"  # the ridge / logistic model on GL-invariant features (lolzoo.lol.reference)
REFERENCE_NAME = "ridge reference (GL-invariant norms and singular values)"
DETERMINISTIC = frozenset({REFERENCE, BASELINE})  # one run per fold whatever the seed
FULL = 1.0  # the train fraction the tables compare at
COLUMNS = ("group", "model", "fold", "seed", "train_fraction", "n_train", "n_test", "metric", "value")


@dataclass
class Source:
    """One folder given on the command line."""
    path: Path
    group: Group
    model: str
    cv: dict | None  # the cv.json document; None for a plain fit folder


@dataclass
class Scores:
    table: pd.DataFrame  # COLUMNS; the baseline's rows included (model BASELINE)
    sources: list[Source]
    fits: dict = field(default_factory=dict)  # (group, fold) -> [(seed, fit folder)] at train fraction 1.0


def read_scores(paths, split: str = "test") -> Scores:
    """Every run of every folder, and the trivial baseline per (group, fold) that has a fit folder."""
    rows, sources, fits, seen = [], [], defaultdict(list), {}
    for path in map(Path, paths):
        if (path / CV_FILE).is_file():
            source, runs = _read_cv(path, split)
        elif (path / METRICS_FILE).is_file():
            source, runs = _read_fit(path, split)
        else:
            raise CompareError(f"{path}: neither a `lolzoo fit-cv` folder (no {CV_FILE}) nor a `lolzoo fit` "
                               f"folder (no {METRICS_FILE})")
        sources.append(source)
        for run in runs:
            key = (source.group, source.model, run["fold"], run["seed"], run["train_fraction"])
            if key in seen:
                raise CompareError(f"{seen[key]} and {path} both hold {source.model} on {source.group.label}, "
                                   f"fold {run['fold']}, seed {run['seed']}, train fraction {run['train_fraction']:g}; "
                                   f"compare one of them")
            seen[key] = path
            if run["dir"] is not None and run["train_fraction"] == FULL:
                fits[(source.group, run["fold"])].append((run["seed"], run["dir"]))
            rows += [{"group": source.group, "model": source.model, **{k: run[k] for k in COLUMNS[2:7]},
                      "metric": name, "value": value} for name, value in run["scores"].items()]
    rows += _baseline_rows(fits, split)
    return Scores(pd.DataFrame(rows, columns=list(COLUMNS)), sources, dict(fits))


def _read_cv(path: Path, split: str):
    cv_path = path / CV_FILE
    try:
        document = json.loads(cv_path.read_text())
        settings = document["settings"]
        group = Group(str(settings["zoo_name"]), str(settings["task"]), tuple(map(str, settings["targets"])))
        names = HEADLINE_METRICS[group.task]
        model = str(settings["model"])
        runs = []
        for run in document["runs"]:
            scored = run["metrics"][split]
            runs.append({"fold": int(run["fold"]), "seed": int(run["seed"]),
                         "train_fraction": float(run["train_fraction"]),
                         "n_train": int(run["n_train"]), "n_test": int(run["n_test"]),
                         "dir": None if run.get("dir") is None else path / str(run["dir"]),
                         "scores": {name: _number(scored.get(name)) for name in names}})
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise CompareError(f"{cv_path}: not a cv.json of `lolzoo fit-cv` ({_reason(err)})") from err
    if not runs:
        raise CompareError(f"{cv_path}: its runs list is empty: there is nothing to compare")
    return Source(path, group, model, document), runs


def _read_fit(path: Path, split: str):
    metrics_path = path / METRICS_FILE
    if not (path / PREDICTIONS_FILE).is_file():
        raise CompareError(f"{path}: not a `lolzoo fit` output (needs {METRICS_FILE} and {PREDICTIONS_FILE})")
    try:
        document = json.loads(metrics_path.read_text())
        settings = document["settings"]
        group = Group(str(settings["zoo_name"]), str(settings["task"]), tuple(map(str, settings["targets"])))
        scored = document["metrics"][split]
        sizes = document["sizes"]
        run = {"fold": int(settings.get("fold", 0)), "seed": int(settings["seed"]), "train_fraction": FULL,
               "n_train": int(sizes["train"]) + int(sizes["val"]), "n_test": int(sizes["test"]), "dir": path,
               "scores": {name: _number(scored.get(name)) for name in HEADLINE_METRICS[group.task]}}
        model = str(settings["model"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise CompareError(f"{metrics_path}: not a metrics file of `lolzoo fit` ({_reason(err)})") from err
    return Source(path, group, model, None), [run]


def _baseline_rows(fits: dict, split: str) -> list[dict]:
    rows = []
    for (group, fold), found in sorted(fits.items(), key=lambda item: (item[0][0].label, item[0][1])):
        seed, folder = min(found, key=lambda pair: pair[0])
        predictions_path = Path(folder) / PREDICTIONS_FILE
        if not predictions_path.is_file():
            raise CompareError(f"{predictions_path}: missing; the trivial baseline of fold {fold} is scored from it")
        predictions = pd.read_parquet(predictions_path)
        labelled = predictions[predictions["label"].notna()]
        n_train = labelled.loc[labelled["split"].isin(["train", "val"]), "lora_id"].nunique()
        n_test = labelled.loc[labelled["split"] == split, "lora_id"].nunique()
        for name, value in baseline_scores(predictions, group, split).items():
            rows.append({"group": group, "model": BASELINE, "fold": fold, "seed": seed, "train_fraction": FULL,
                         "n_train": n_train, "n_test": n_test, "metric": name, "value": _number(value)})
    return rows


def pairing_table(column: pd.DataFrame) -> pd.DataFrame:
    """The runs of one (group, metric, train fraction) ready for intervals.paired_differences:
    a deterministic row (reference, baseline) has one run per fold, repeated here for every
    seed the other models ran on that fold, so each of their runs is paired with it."""
    random = column[~column["model"].isin(DETERMINISTIC)]
    seeds = random.groupby("fold")["seed"].apply(lambda s: sorted(set(s))).to_dict()
    parts = [random]
    for _, rows in column[column["model"].isin(DETERMINISTIC)].groupby("model"):
        for row in rows.itertuples(index=False):
            for seed in seeds.get(row.fold, [row.seed]):
                parts.append(pd.DataFrame([{**row._asdict(), "seed": seed}]))
    return pd.concat(parts, ignore_index=True)


def _number(value) -> float:
    if value is None:
        return math.nan
    number = float(value)
    return number if np.isfinite(number) else math.nan


def _reason(err: Exception) -> str:
    text = f"missing key {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())  # one line
