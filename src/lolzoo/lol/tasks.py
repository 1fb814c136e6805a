"""The three kinds of LoL task: what a model's outputs mean, its loss, and the way back to labels.

A task is fitted on the training labels only and then holds everything needed to turn model
outputs into label units (regression mean/std, the class list); `to_json` / `task_from_json`
carry that into model.json.

  regression   one output per target; trained on standardised targets (train mean/std), MSE
  multilabel   one logit per binary target; BCE with logits; probabilities out
  multiclass   one logit per class of the single target; cross entropy; classes from train labels

Labels travel as numpy arrays of shape (LoRAs, targets): float for regression, 0/1 for
multilabel, Python objects (int, str, ...) for multiclass.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from lolzoo.errors import LolzooError
from lolzoo.lol import metrics

TASK_KINDS = ("regression", "multilabel", "multiclass")
UNSEEN_CLASS = -1  # class index of a label absent from the training split; ignored by the loss


class TaskError(LolzooError):
    """Labels that do not fit the task asked for."""


class Task:
    """Base class: subclasses define the label handling of one task kind."""

    kind = ""

    def __init__(self, targets: list[str]):
        self.targets = list(targets)

    @property
    def out_dim(self) -> int:
        return len(self.targets)

    @staticmethod
    def read_labels(frame: pd.DataFrame) -> np.ndarray:
        """The target columns (no missing values) as the task's label array; raises TaskError."""
        raise NotImplementedError

    @classmethod
    def fit(cls, targets: list[str], train_labels: np.ndarray) -> "Task":
        return cls(targets)

    def encode(self, labels: np.ndarray) -> torch.Tensor:
        """Labels as the tensor the loss compares outputs with."""
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def point_predictions(self, outputs: torch.Tensor) -> np.ndarray:
        """(LoRAs, targets) in label units: values, probabilities of True, or classes."""
        raise NotImplementedError

    def label_metrics(self, predictions: np.ndarray, labels: np.ndarray) -> dict:
        raise NotImplementedError

    def metrics(self, outputs: torch.Tensor, labels: np.ndarray) -> dict:
        """Metrics in label units plus the training loss, for one split."""
        with torch.no_grad():
            loss = float(self.loss(outputs, self.encode(labels)))
        return {"loss": loss, **self.label_metrics(self.point_predictions(outputs), labels)}

    def describe(self, outputs: torch.Tensor) -> list:
        """One JSON-able prediction per LoRA, as `lolzoo predict` prints it."""
        raise NotImplementedError

    def to_json(self) -> dict:
        return {"kind": self.kind, "targets": self.targets}


class RegressionTask(Task):
    kind = "regression"

    def __init__(self, targets: list[str], mean: list[float], std: list[float]):
        super().__init__(targets)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @staticmethod
    def read_labels(frame: pd.DataFrame) -> np.ndarray:
        try:
            values = frame.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TaskError(f"regression targets must be numbers: {err}") from err
        if not np.isfinite(values).all():
            raise TaskError("regression targets contain infinite values")
        return values

    @classmethod
    def fit(cls, targets, train_labels):
        std = train_labels.std(axis=0)
        # a constant target cannot be scaled; 1 keeps it learnable as an offset
        std = np.where(std > 0, std, 1.0)
        return cls(targets, train_labels.mean(axis=0).tolist(), std.tolist())

    def encode(self, labels):
        return torch.as_tensor((labels - self.mean) / self.std, dtype=torch.float32)

    def loss(self, outputs, encoded):
        return F.mse_loss(outputs, encoded)

    def point_predictions(self, outputs):
        return outputs.detach().double().numpy() * self.std + self.mean

    def label_metrics(self, predictions, labels):
        return metrics.regression_metrics(predictions, labels, self.targets)

    def describe(self, outputs):
        values = self.point_predictions(outputs)
        if len(self.targets) == 1:
            return [float(v[0]) for v in values]
        return [dict(zip(self.targets, map(float, v))) for v in values]

    def to_json(self):
        return {**super().to_json(), "mean": self.mean.tolist(), "std": self.std.tolist()}


class MultilabelTask(Task):
    kind = "multilabel"

    @staticmethod
    def read_labels(frame: pd.DataFrame) -> np.ndarray:
        try:
            values = frame.astype("float64").to_numpy()
        except (TypeError, ValueError) as err:
            raise TaskError(f"multilabel targets must be booleans or 0/1: {err}") from err
        bad = sorted({float(v) for v in np.unique(values) if v not in (0.0, 1.0)})
        if bad:
            raise TaskError(f"multilabel targets must be booleans or 0/1, found values {bad[:5]}")
        return values

    def encode(self, labels):
        return torch.as_tensor(labels, dtype=torch.float32)

    def loss(self, outputs, encoded):
        return F.binary_cross_entropy_with_logits(outputs, encoded)

    def point_predictions(self, outputs):
        return torch.sigmoid(outputs.detach().double()).numpy()  # float64 saturates far later than float32

    def label_metrics(self, predictions, labels):
        return metrics.multilabel_metrics(predictions, labels, self.targets)

    def describe(self, outputs):
        return [dict(zip(self.targets, map(float, p))) for p in self.point_predictions(outputs)]


class MulticlassTask(Task):
    kind = "multiclass"

    def __init__(self, targets: list[str], classes: list):
        if len(targets) != 1:
            raise TaskError(f"a multiclass task has one target column, got {len(targets)}: {targets}")
        if len(classes) < 2:
            raise TaskError(f"a multiclass task needs at least two classes in the training split, got {classes}")
        super().__init__(targets)
        self.classes = list(classes)
        self._index = {c: i for i, c in enumerate(self.classes)}

    @property
    def out_dim(self):
        return len(self.classes)

    @staticmethod
    def read_labels(frame: pd.DataFrame) -> np.ndarray:
        if frame.shape[1] != 1:
            raise TaskError(f"a multiclass task has one target column, got {list(frame.columns)}")
        values = [_plain(v) for v in frame.iloc[:, 0].tolist()]
        if any(isinstance(v, float) and not v.is_integer() for v in values):
            raise TaskError("multiclass labels must be classes (integers, strings, booleans), found fractional numbers")
        return np.array([[int(v) if isinstance(v, float) else v] for v in values], dtype=object)

    @classmethod
    def fit(cls, targets, train_labels):
        return cls(targets, sorted(set(train_labels[:, 0].tolist()), key=_class_order))

    def encode(self, labels):
        return torch.tensor([self._index.get(c, UNSEEN_CLASS) for c in labels[:, 0]], dtype=torch.long)

    def loss(self, outputs, encoded):
        if (encoded == UNSEEN_CLASS).all():  # cross entropy of nothing is NaN; nothing to learn here
            return outputs.sum() * 0.0
        return F.cross_entropy(outputs, encoded, ignore_index=UNSEEN_CLASS)

    def probabilities(self, outputs: torch.Tensor) -> np.ndarray:
        return torch.softmax(outputs.detach().double(), dim=-1).numpy()

    def point_predictions(self, outputs):
        best = outputs.detach().argmax(dim=-1).tolist()
        return np.array([[self.classes[i]] for i in best], dtype=object)

    def label_metrics(self, predictions, labels):
        unseen = int(sum(c not in self._index for c in labels[:, 0]))
        return {**metrics.multiclass_metrics(predictions[:, 0], labels[:, 0]), "unseen_class_labels": unseen}

    def describe(self, outputs):
        rows = []
        for predicted, probs in zip(self.point_predictions(outputs)[:, 0], self.probabilities(outputs)):
            rows.append({"class": predicted, "probabilities": {str(c): float(p) for c, p in zip(self.classes, probs)}})
        return rows

    def to_json(self):
        return {**super().to_json(), "classes": self.classes}


TASKS = {cls.kind: cls for cls in (RegressionTask, MultilabelTask, MulticlassTask)}


def task_class(kind: str) -> type[Task]:
    if kind not in TASKS:
        raise TaskError(f"unknown task {kind!r}; choose one of {', '.join(TASK_KINDS)}")
    return TASKS[kind]


def fit_task(kind: str, targets: list[str], train_labels: np.ndarray) -> Task:
    return task_class(kind).fit(list(targets), train_labels)


def task_from_json(data: dict) -> Task:
    kind, targets = data["kind"], data["targets"]
    if kind == "regression":
        return RegressionTask(targets, data["mean"], data["std"])
    if kind == "multiclass":
        return MulticlassTask(targets, data["classes"])
    return task_class(kind)(targets)


def _plain(value):
    """numpy scalars as Python values, so classes compare, sort and go to JSON as themselves."""
    return value.item() if isinstance(value, np.generic) else value


def _class_order(value):
    # numbers before strings, each in natural order; bools sort as numbers
    return (0, float(value), "") if isinstance(value, (int, float)) else (1, math.inf, str(value))
