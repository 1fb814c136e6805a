"""Train one LoL model on one zoo and task: `fit(model_kind, zoo, task, targets, seed, hparams)`.

The recipe of the authors' code (PAPER_FACTS, "LoL training"): AdamW, a fixed number of
epochs, the epoch with the lowest validation loss kept (its weights are restored at the end),
metrics on train / val / test.  Preprocessing statistics are fitted on the training split
only.  Deterministic for a seed on CPU: the seed fixes the initial weights (torch.manual_seed)
and the mini-batch order (a generator of its own).

Default settings are those of the Qwen2-ARC experiments, the only ones that select the best
epoch by validation loss, as we always do; PAPER_PRESETS has the other experiments' settings.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from lolzoo.errors import LolzooError
from lolzoo.lol.base import LoLModel, LoraBatch
from lolzoo.lol.data import ZooData, zoo_data
from lolzoo.lol.features import feature_bytes, rows_leading, take_rows
from lolzoo.lol.split import DEFAULT_FRACTIONS, SPLITS, check_fractions, fold_split, keep_training_share
from lolzoo.lol.tasks import Task, fit_task
from lolzoo.zoo.load import Zoo

CACHE_BUDGET_BYTES = 2 * 1024 ** 3  # preprocessed features above this are recomputed per batch
PREDICT_BATCH = 64  # LoRAs per forward when predicting (the paper's runtime figure uses up to 64)


class TrainingError(LolzooError):
    """Settings that cannot train, or a run whose validation loss was never finite."""


@dataclass
class TrainSettings:
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 32
    epochs: int = 60
    split: tuple[float, float, float] = DEFAULT_FRACTIONS
    # rank generalisation: train and validate on LoRAs of these ranks only; every LoRA of
    # another rank is moved to the test split (None: every rank trains)
    train_ranks: tuple[int, ...] | None = None
    # cross-validation: test on fold `fold` of `folds` (lolzoo.lol.split.fold_split); folds=1 is the
    # fixed split above, and with more folds only its val share is used (the share of the other folds
    # that validates)
    folds: int = 1
    fold: int = 0
    # learning curves: train on this share of the training LoRAs only (lolzoo.lol.split.keep_training_share);
    # val and test are unchanged
    train_fraction: float = 1.0

    def __post_init__(self):
        if self.train_ranks is not None:
            self.train_ranks = tuple(int(r) for r in self.train_ranks)
            if not self.train_ranks or min(self.train_ranks) < 1:
                raise TrainingError(f"train_ranks must list ranks >= 1, got {list(self.train_ranks)}")
        self.lr, self.weight_decay = float(self.lr), float(self.weight_decay)
        self.batch_size, self.epochs = int(self.batch_size), int(self.epochs)
        self.split = check_fractions(self.split)
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 1:
            raise TrainingError(f"folds must be an integer >= 1, got {self.folds!r}")
        if isinstance(self.fold, bool) or not isinstance(self.fold, int) or not 0 <= self.fold < self.folds:
            raise TrainingError(f"fold must be one of 0 to {self.folds - 1} (folds {self.folds}), got {self.fold!r}")
        self.train_fraction = float(self.train_fraction)
        if not 0.0 < self.train_fraction <= 1.0:
            raise TrainingError(f"train_fraction must lie in (0, 1], got {self.train_fraction}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TrainingError(f"lr must be a positive number, got {self.lr}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise TrainingError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.batch_size < 1 or self.epochs < 1:
            raise TrainingError(f"batch_size and epochs must be >= 1, got {self.batch_size} and {self.epochs}")


TRAIN_KEYS = frozenset(f.name for f in fields(TrainSettings))

# Training settings of the paper's experiments (authors' code); unlisted keys keep the defaults.
PAPER_PRESETS: dict[str, dict] = {
    "clip-score": {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 8, "epochs": 3},
    "celeba-attributes": {"lr": 1e-3, "epochs": 12},
    "imagenette-classes": {"lr": 1e-3, "batch_size": 8, "epochs": 3},
    "qwen2-arc": {"lr": 1e-3, "weight_decay": 1e-2, "batch_size": 32, "epochs": 60},
}


def split_hparams(hparams: dict | None) -> tuple[TrainSettings, dict]:
    """Training settings (TRAIN_KEYS) apart from the model's own hyperparameters (the rest)."""
    hparams = dict(hparams or {})
    train = {k: hparams.pop(k) for k in list(hparams) if k in TRAIN_KEYS}
    return TrainSettings(**train), hparams


@dataclass
class FitResult:
    model: LoLModel  # best-epoch weights, eval mode
    task: Task
    model_kind: str
    seed: int
    settings: TrainSettings
    model_hparams: dict
    lora_ids: list[str]  # every LoRA of the zoo
    splits: np.ndarray  # split name per LoRA
    labelled: np.ndarray  # bool per LoRA: used for training / metrics
    labels: np.ndarray  # labels of the labelled LoRAs, in order
    outputs: torch.Tensor  # raw model outputs of every LoRA
    metrics: dict  # split -> metrics
    best_epoch: int  # 1-based
    history: list[dict]  # per epoch: train_loss, val_loss
    timings: dict
    sizes: dict = field(default_factory=dict)


def held_out_ranks(splits: np.ndarray, ranks: np.ndarray, train_ranks: tuple[int, ...]) -> np.ndarray:
    """The splits with every LoRA whose rank is not in `train_ranks` moved to test."""
    moved = splits.copy()
    moved[~np.isin(ranks, train_ranks)] = "test"
    return moved


def fit(model_kind: str, zoo: Zoo, task: str, targets: list[str], seed: int = 0, hparams: dict | None = None,
        build_model: Callable[..., LoLModel] | None = None) -> FitResult:
    """Train `model_kind` on `zoo` to predict `targets`; hparams mixes TrainSettings keys and model keys.

    build_model defaults to lolzoo.lol.registry.build_model (kind, shapes, rank, out_dim, **hparams); on a
    DoRA zoo it is also given magnitudes=True, so the model takes the magnitude vectors.
    """
    if build_model is None:
        from lolzoo.lol.registry import build_model
    settings, model_hparams = split_hparams(hparams)
    data = zoo_data(zoo, task, list(targets))
    fold = {"fractions": settings.split, "folds": settings.folds, "fold": settings.fold}
    splits = fold_split(zoo.lora_ids, **fold, require_nonempty=False)
    fold_split([i for i, keep in zip(zoo.lora_ids, data.labelled) if keep], **fold)  # names an empty split
    if settings.train_ranks is not None:
        splits = held_out_ranks(splits, zoo.ranks.max(dim=1).values.numpy(), settings.train_ranks)
    splits = splits.astype(object)
    labelled_ids = [i for i, keep in zip(zoo.lora_ids, data.labelled) if keep]  # the share is of labelled LoRAs
    splits[data.labelled] = keep_training_share(splits[data.labelled], labelled_ids, settings.train_fraction)
    labelled_split = splits[data.labelled]
    rows = {s: torch.from_numpy(np.flatnonzero(data.labelled)[labelled_split == s]) for s in SPLITS}
    labels = {s: data.labels[labelled_split == s] for s in SPLITS}

    if settings.train_ranks is not None and not (len(rows["train"]) and len(rows["val"])):
        raise TrainingError(f"train_ranks {list(settings.train_ranks)}: the train or val split has no LoRA of "
                            f"those ranks (ranks in the zoo: {sorted(set(zoo.ranks.max(dim=1).values.tolist()))})")
    fitted_task = fit_task(task, list(targets), labels["train"])
    torch.manual_seed(seed)
    try:
        dora = {"magnitudes": True} if data.batch.magnitudes is not None else {}  # plain zoos: builders need not know
        model = build_model(model_kind, data.batch.shapes, data.batch.rank, fitted_task.out_dim, **dora, **model_hparams)
    except (ValueError, TypeError) as err:  # unknown kind or hyperparameter: the registry names the valid ones
        raise TrainingError(str(err)) from err

    timings = {}
    start = time.perf_counter()
    train_batch, val_batch = data.batch.take(rows["train"]), data.batch.take(rows["val"])
    model.fit_preprocessing(train_batch)
    train_inputs, val_inputs = _FeatureSource(model, train_batch), _FeatureSource(model, val_batch)
    timings["preprocess_s"] = time.perf_counter() - start

    start = time.perf_counter()
    history, best_epoch = _train(model, fitted_task, settings, seed, train_inputs, val_inputs,
                                 fitted_task.encode(labels["train"]), fitted_task.encode(labels["val"]))
    timings["train_s"] = time.perf_counter() - start - train_inputs.seconds - val_inputs.seconds
    timings["preprocess_s"] += train_inputs.seconds + val_inputs.seconds  # per-batch preprocessing, if any

    start = time.perf_counter()
    outputs = predict_outputs(model, data.batch)
    timings["predict_s"] = time.perf_counter() - start
    timings["predict_s_per_lora"] = timings["predict_s"] / len(data.lora_ids)

    labelled_outputs = outputs[torch.from_numpy(data.labelled)]
    metrics = {s: fitted_task.metrics(labelled_outputs[torch.from_numpy(labelled_split == s)], labels[s])
               for s in SPLITS}
    sizes = {"loras": len(data.lora_ids), "dropped_missing_target": data.dropped,
             **{s: len(rows[s]) for s in SPLITS},
             "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
             "modules": len(data.batch.U), "rank": data.batch.rank,
             "features_cached": train_inputs.cached}
    return FitResult(model, fitted_task, model_kind, seed, settings, model_hparams, data.lora_ids, splits,
                     data.labelled, data.labels, outputs, metrics, best_epoch, history, timings, sizes)


def _train(model: LoLModel, task: Task, settings: TrainSettings, seed: int, train_inputs: "_FeatureSource",
           val_inputs: "_FeatureSource", train_targets: torch.Tensor, val_targets: torch.Tensor):
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    order = torch.Generator().manual_seed(seed)
    history, best_loss, best_epoch, best_state = [], math.inf, 0, None
    for epoch in range(1, settings.epochs + 1):
        model.train()
        total = 0.0
        for index in torch.randperm(train_inputs.size, generator=order).split(settings.batch_size):
            optimizer.zero_grad()
            loss = task.loss(model.forward_features(train_inputs.rows(index)), train_targets[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        val_loss = _evaluate_loss(model, task, val_inputs, val_targets)
        history.append({"epoch": epoch, "train_loss": total / train_inputs.size, "val_loss": val_loss})
        if val_loss < best_loss:  # NaN never wins
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
    if best_state is None:
        raise TrainingError(f"the validation loss was never finite in {settings.epochs} epochs "
                            f"(last train loss {history[-1]['train_loss']}); try a lower lr")
    model.load_state_dict(best_state)
    model.eval()
    return history, best_epoch


@torch.no_grad()
def _evaluate_loss(model: LoLModel, task: Task, inputs: "_FeatureSource", targets: torch.Tensor) -> float:
    model.eval()
    outputs = torch.cat([model.forward_features(inputs.rows(index))
                         for index in torch.arange(inputs.size).split(PREDICT_BATCH * 4)])
    return float(task.loss(outputs, targets))


@torch.no_grad()
def predict_outputs(model: LoLModel, batch: LoraBatch, batch_size: int = PREDICT_BATCH) -> torch.Tensor:
    """Raw outputs of every LoRA of `batch`, preprocessing included (what a user pays per LoRA)."""
    model.eval()
    return torch.cat([model(batch.take(slice(i, i + batch_size))) for i in range(0, batch.size, batch_size)])


class _FeatureSource:
    """Mini-batches of preprocessed features: cached once when they fit CACHE_BUDGET_BYTES, else per batch."""

    def __init__(self, model: LoLModel, batch: LoraBatch, budget: int | None = None):
        budget = CACHE_BUDGET_BYTES if budget is None else budget
        self.model, self.batch, self.size, self.seconds = model, batch, batch.size, 0.0
        probe_rows = torch.arange(min(self.size, 2))  # two rows: Dense features of big LoRAs are huge
        with torch.no_grad():
            probe = model.preprocess(batch.take(probe_rows))
        estimate = feature_bytes(probe) / max(len(probe_rows), 1) * self.size
        self.cached = rows_leading(probe, len(probe_rows)) and estimate <= budget
        if self.cached:
            with torch.no_grad():
                self.features = model.preprocess(batch)

    def rows(self, index: torch.Tensor):
        if self.cached:
            return take_rows(self.features, index)
        start = time.perf_counter()
        with torch.no_grad():
            features = self.model.preprocess(self.batch.take(index))
        self.seconds += time.perf_counter() - start
        return features


def settings_dict(settings: TrainSettings) -> dict:
    return {**asdict(settings), "split": list(settings.split)}
