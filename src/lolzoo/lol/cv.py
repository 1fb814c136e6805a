"""Tuned, cross-validated fits of one model on one task of one zoo, in one process.

For each outer fold k of K (lolzoo.lol.split.fold_split: fold k tests, validation is carved
from the other folds):

1. selection: every candidate setting (lolzoo.lol.tuning.candidates: the preset first) is
   trained with the selection seed, and the one with the lowest validation loss at its best
   epoch is chosen. Only fold k's train and val rows are read; its test rows never reach the
   choice (tests/lol/test_cv.py poisons them to check).
2. runs: the chosen setting trained with every seed (the selection seed's fit is reused).
3. learning curve: the chosen setting trained with the selection seed on each smaller share of
   the training LoRAs (lolzoo.lol.split.keep_training_share), val and test unchanged.

The "reference" model is the closed-form ridge / logistic fit on GL-invariant scale features
(lolzoo.lol.reference): its penalty is chosen on the validation rows, it has no seed and no grid.

One process for all of this means torch is imported and the zoo read once, not once per fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from lolzoo.errors import LolzooError
from lolzoo.lol.data import zoo_data
from lolzoo.lol.reference import fit_reference_on_split, invariant_features
from lolzoo.lol.split import SPLITS, fold_split, keep_training_share
from lolzoo.lol.tasks import fit_task
from lolzoo.lol.train import FitResult, TrainingError, fit, held_out_ranks, split_hparams
from lolzoo.lol.tuning import candidates
from lolzoo.zoo.load import Zoo

REFERENCE = "reference"
LOGIT_FLOOR = 1e-7  # reference probabilities of exactly 0 or 1 would give infinite logits


class CrossValidationError(LolzooError):
    """A plan that cannot run (no seeds, a share outside (0, 1], a training share list without 1)."""


@dataclass(frozen=True)
class CVPlan:
    folds: int = 1
    seeds: tuple[int, ...] = (0,)
    trials: int = 1
    grid: dict = field(default_factory=dict)
    train_fractions: tuple[float, ...] = (1.0,)
    grid_seed: int = 0  # the draw of candidate settings (lolzoo.lol.tuning.candidates)

    def __post_init__(self):
        if not self.seeds:
            raise CrossValidationError("a cross-validated fit needs at least one seed")
        fractions = tuple(float(f) for f in self.train_fractions)
        if any(not 0.0 < f <= 1.0 for f in fractions) or 1.0 not in fractions:
            raise CrossValidationError(f"training shares lie in (0, 1] and include 1 (the full runs), "
                                       f"got {list(fractions)}")
        object.__setattr__(self, "train_fractions", tuple(sorted(set(fractions))))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))

    @property
    def selection_seed(self) -> int:
        return min(self.seeds)


# called with (fold, seed, result) for every full-share fit; returns the folder it wrote, relative
WriteFit = Callable[[int, int, FitResult], str]


def run_cv(model_kind: str, zoo: Zoo, task: str, targets: Sequence[str], start: dict, plan: CVPlan,
           write_fit: WriteFit | None = None, log: Callable[[str], None] = print) -> dict:
    """selection, chosen and runs (the parts of cv.json that depend on the data; see module doc).
    `start` mixes training settings and model hyperparameters: the grid's starting point."""
    if model_kind == REFERENCE:
        return _reference_cv(zoo, task, list(targets), start, plan, log)
    trials = candidates(start, plan.grid, plan.trials, plan.grid_seed)
    selection, chosen, runs = [], {}, []
    for k in range(plan.folds):
        fold = {"folds": plan.folds, "fold": k}
        best, best_loss, best_setting = None, np.inf, None
        for index, setting in enumerate(trials):
            began = time.perf_counter()
            result = fit(model_kind, zoo, task, list(targets), plan.selection_seed, {**setting, **fold})
            loss = _selection_loss(result)
            selection.append({"fold": k, "trial": index, "setting": setting, "val_loss": loss,
                              "best_epoch": result.best_epoch, "seconds": time.perf_counter() - began})
            if best is None or loss < best_loss:  # a tie keeps the earlier candidate (the preset first)
                best, best_loss, best_setting = result, loss, setting
        chosen[str(k)] = best_setting
        log(f"fold {k}: chose {best_setting} (val loss {best_loss:.4g}) of {len(trials)} setting(s)")
        for seed in plan.seeds:
            began = time.perf_counter()
            result = best if seed == plan.selection_seed else \
                fit(model_kind, zoo, task, list(targets), seed, {**best_setting, **fold})
            folder = write_fit(k, seed, result) if write_fit else None
            runs.append(_run_record(k, seed, 1.0, best_setting, result.sizes, result.metrics, folder,
                                    time.perf_counter() - began))
        for share in plan.train_fractions[:-1]:
            began = time.perf_counter()
            result = fit(model_kind, zoo, task, list(targets), plan.selection_seed,
                          {**best_setting, **fold, "train_fraction": share})
            runs.append(_run_record(k, plan.selection_seed, share, best_setting, result.sizes, result.metrics,
                                    None, time.perf_counter() - began))
    return {"selection": selection, "chosen": chosen, "runs": runs}


def _selection_loss(result: FitResult) -> float:
    """The validation loss of the epoch kept: what the setting would be kept for."""
    return float(result.history[result.best_epoch - 1]["val_loss"])


def _run_record(fold, seed, share, setting, sizes, metrics, folder, seconds) -> dict:
    return {"fold": fold, "seed": seed, "train_fraction": share, "setting": setting,
            "n_train": int(sizes["train"] + sizes["val"]), "n_test": int(sizes["test"]),
            "metrics": metrics, "dir": folder, "seconds": seconds}


# ---- the closed-form reference --------------------------------------------------------------

def _reference_cv(zoo: Zoo, task: str, targets: list[str], start: dict, plan: CVPlan, log) -> dict:
    settings, _ = split_hparams(start)  # the split fractions and train_ranks; the rest is the LoL models'
    data = zoo_data(zoo, task, targets)
    began = time.perf_counter()
    features = invariant_features(data.batch.U, data.batch.V)
    if data.batch.magnitudes is not None:  # DoRA: the magnitudes' log norms are GL-invariant too
        features = np.concatenate([features] + [np.log(np.linalg.norm(m.numpy(), axis=1, keepdims=True) + 1e-30)
                                                for m in data.batch.magnitudes], axis=1)
    log(f"reference: {features.shape[1]} GL-invariant features per LoRA in {time.perf_counter() - began:.2f} s")
    labelled_ids = [i for i, keep in zip(zoo.lora_ids, data.labelled) if keep]
    ranks = zoo.ranks.max(dim=1).values.numpy()[data.labelled]
    runs = []
    for k in range(plan.folds):
        names = fold_split(labelled_ids, settings.split, plan.folds, k)
        if settings.train_ranks is not None:
            names = held_out_ranks(names, ranks, settings.train_ranks)
        for share in plan.train_fractions:
            began = time.perf_counter()
            used = keep_training_share(names, labelled_ids, share)
            metrics, sizes = _reference_fit(task, targets, features[data.labelled], data.labels, used)
            runs.append(_run_record(k, plan.selection_seed, share, {}, sizes, metrics, None,
                                    time.perf_counter() - began))
    return {"selection": [], "chosen": {str(k): {} for k in range(plan.folds)}, "runs": runs}


def _reference_fit(task: str, targets: list[str], features: np.ndarray, labels: np.ndarray,
                   names: np.ndarray) -> tuple[dict, dict]:
    """Metrics per split of the reference fitted on `names`' train and val rows, scored as the LoL
    models are: its predictions turned into the task's raw outputs and passed to Task.metrics."""
    sizes = {s: int((names == s).sum()) for s in SPLITS}
    if not (sizes["train"] and sizes["val"] and sizes["test"]):
        raise TrainingError(f"the reference needs train, val and test rows, got {sizes}")
    fitted = fit_task(task, targets, labels[names == "train"])
    model = fit_reference_on_split(features, labels, names, task)
    outputs = _as_outputs(fitted, model, features)
    metrics = {s: fitted.metrics(outputs[torch.from_numpy(names == s)], labels[names == s]) for s in SPLITS}
    return metrics, sizes


def _as_outputs(fitted, model, features: np.ndarray) -> torch.Tensor:
    """The reference's predictions as a LoL model's raw outputs for the same task."""
    predicted = model.predict(features)
    if fitted.kind == "regression":
        return torch.as_tensor((predicted - fitted.mean) / fitted.std, dtype=torch.float64)
    if fitted.kind == "multilabel":
        p = np.clip(predicted, LOGIT_FLOOR, 1 - LOGIT_FLOOR)
        return torch.as_tensor(np.log(p) - np.log1p(-p), dtype=torch.float64)
    # multiclass: log-probabilities in the task's class order (a class the reference never saw: floor)
    order = {c: i for i, c in enumerate(model.classes)}
    columns = [predicted[:, order[c]] if c in order else np.full(len(predicted), LOGIT_FLOOR) for c in fitted.classes]
    return torch.as_tensor(np.log(np.clip(np.stack(columns, axis=1), LOGIT_FLOOR, None)), dtype=torch.float64)
