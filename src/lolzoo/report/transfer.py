"""Cross-base transfer: LoL models fitted on the LoRAs of one base, tested on the LoRAs of a
sibling base (SD 1.5 to SD 1.4; in the default world a tiny SD trained on from the same parent
with another seed), next to their in-base test scores.

In-base cells are the fits' own test metrics (`lolzoo compare`'s). A cross-base cell scores the
same fitted model on every labelled LoRA of the sibling zoo: none of them was seen in training.
Its trivial-baseline row keeps the training zoo's train mean / rate / majority, so a reader sees
how much of a drop is the labels' shift between bases rather than the model.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from lolzoo.errors import LolzooError
from lolzoo.lol.artifacts import load_model_folder
from lolzoo.lol.data import zoo_data
from lolzoo.lol.predict import layout_problems, pad_rank
from lolzoo.lol.results import PREDICTIONS_FILE
from lolzoo.lol.train import predict_outputs
from lolzoo.report.compare import HEADLINE_METRICS, Run, baseline_scores
from lolzoo.zoo.load import Zoo


class TransferError(LolzooError):
    """A sibling zoo the fitted model cannot read (other modules or shapes, missing labels)."""


def transferred_run(run: Run, zoo: Zoo) -> Run:
    """`run`'s model scored on every labelled LoRA of `zoo`, as a Run of the group `<trained> → <zoo>`."""
    trained = load_model_folder(run.folder)
    problems = layout_problems(trained, {spec.key: (spec.n, spec.m) for spec in zoo.modules})
    if problems:
        raise TransferError(f"{zoo.path}: its LoRAs {problems}")
    task = trained.task
    missing = [t for t in task.targets if t not in zoo.table.columns]
    if missing:
        raise TransferError(f"{zoo.path}: no label column(s) {missing} to score {run.group.label} on")
    data = zoo_data(zoo, task.kind, task.targets)
    rows = torch.from_numpy(np.flatnonzero(data.labelled))
    batch = data.batch.take(rows)
    rank = max(trained.rank, batch.rank)  # zero columns leave ΔW as it is
    batch = replace(batch, U=[pad_rank(u, rank) for u in batch.U], V=[pad_rank(v, rank) for v in batch.V])
    try:
        outputs = predict_outputs(trained.model, batch)
    except ValueError as err:  # e.g. a rank the model's input size cannot take
        raise TransferError(f"{zoo.path}: {err}") from err
    found = task.metrics(outputs, data.labels)
    scores = {name: _number(found.get(name)) for name in HEADLINE_METRICS[task.kind]}
    group = replace(run.group, zoo=f"{run.group.zoo} → {zoo.info.zoo}")
    return replace(run, group=group, scores=scores, baseline=_constant_baseline(run, zoo, list(task.targets)))


def _constant_baseline(run: Run, zoo: Zoo, targets: list[str]) -> dict:
    """The trivial baseline of the training zoo's train split, scored on the sibling's labels."""
    predictions = pd.read_parquet(run.folder / PREDICTIONS_FILE)
    train = predictions[predictions["split"] == "train"]
    labelled = zoo.table[["lora_id", *targets]].dropna()
    sibling = labelled.melt(id_vars="lora_id", value_vars=targets, var_name="target", value_name="label")
    sibling = sibling.assign(split="test", prediction=None)
    if run.group.task != "multiclass":
        sibling["label"] = sibling["label"].astype("float64")
    return baseline_scores(pd.concat([train, sibling[train.columns]], ignore_index=True), run.group, "test")


PREFACE = ("Cross-base transfer. Columns `<zoo> · <task>`: in-base, the fits' own test split; columns "
           "`<zoo> → <sibling> · <task>`: the same fitted models on every labelled LoRA of the sibling zoo "
           "(LoRAs of another base, none seen in training); there the baseline keeps the training zoo's "
           "train mean / rate / majority. In-base: ")


def _number(value) -> float:
    return math.nan if value is None else float(value)
