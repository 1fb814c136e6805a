"""Hand-built `lolzoo fit-cv` folders (issue 18, contract A) with known scores, and the
reliability files (contract B) the report reads beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

HEADLINE = {"regression": ("mse", "r2", "kendall_tau"), "multilabel": ("loss", "accuracy", "auroc"),
            "multiclass": ("accuracy",)}


def fold_rows(fold: int, targets=("clip_score",), task: str = "regression"):
    """predictions.parquet rows of one fold: train labels 0 and 2 (mean 1), val 1, test 1 ± (fold + 1).
    The trivial baseline (predict 1) then scores MSE (fold + 1)², R² 0 and an undefined τ on test.
    Multilabel: train 1, 1, val 0, test 1 and 0 (the majority 1 is right on half of the test rows)."""
    a = fold + 1
    labels = (0.0, 2.0, 1.0, 1.0 + a, 1.0 - a) if task == "regression" else (1.0, 1.0, 0.0, 1.0, 0.0)
    rows = list(zip(("t0", "t1", "v0", "x0", "x1"), ("train", "train", "val", "test", "test"), labels))
    return [{"lora_id": f"f{fold}-{lora}", "split": split, "target": target,
             "label": label if target == targets[0] else 0.0,
             "prediction": label if target == targets[0] else 0.0}
            for lora, split, label in rows for target in targets]


def write_fit_folder(folder: Path, *, model: str, seed: int, fold: int, folds: int, scores: dict,
                     task: str = "regression", targets=("clip_score",), zoo: str = "celeba", rows=None) -> Path:
    """A `lolzoo fit` output as `lolzoo fit-cv` writes it under fold{k}/seed{s}: metrics.json with
    settings, test metrics and sizes, and predictions.parquet (`rows`, default fold_rows)."""
    folder.mkdir(parents=True)
    settings = {"zoo_name": zoo, "task": task, "targets": list(targets), "model": model, "seed": seed,
                "folds": folds, "fold": fold}
    per_target = {t: dict(scores) for t in targets}
    if task == "multilabel":
        per_target = {t: {"accuracy": scores.get("accuracy", 0.5), "auroc": scores.get("auroc", 0.5)} for t in targets}
    metrics = {split: {**scores, "per_target": per_target} for split in ("train", "val", "test")}
    document = {"settings": settings, "metrics": metrics, "sizes": {"train": 2, "val": 1, "test": 2, "loras": 5},
                "timings": {"preprocess_s": 0.5, "predict_s": 0.5}}
    (folder / "metrics.json").write_text(json.dumps(document))
    frame = pd.DataFrame(rows if rows is not None else fold_rows(fold, targets, task))
    frame["label"] = frame["label"].astype("float64")
    frame["prediction"] = frame["prediction"].astype("float64")
    frame.to_parquet(folder / "predictions.parquet", index=False)
    return folder


def write_cv(folder: Path, model: str, score, *, task: str = "regression", targets=("clip_score",),
             zoo: str = "celeba", folds: int = 5, seeds=(0, 1, 2), fractions=(1.0,), n_train: int = 80,
             n_test: int = 20, fits: bool | None = None, selection=None, chosen=None, grid=None) -> Path:
    """A fit-cv folder: cv.json whose runs hold score(fold, seed, fraction) for each headline metric
    (a number: every metric; a dict: per metric), and the fold*/seed* fit folders at fraction 1.0
    (not for model "reference", which has one seed, the first, as `lolzoo fit-cv` writes it)."""
    folder.mkdir(parents=True)
    reference = model == "reference"
    seeds = tuple(seeds[:1]) if reference else tuple(seeds)
    fits = (not reference) if fits is None else fits
    runs = []
    for fold in range(folds):
        for fraction in fractions:
            for seed in (seeds if fraction == 1.0 else seeds[:1]):
                value = score(fold, seed, fraction)
                scores = value if isinstance(value, dict) else {name: value for name in HEADLINE[task]}
                directory = None
                if fits and fraction == 1.0:
                    directory = f"fold{fold}/seed{seed}"
                    write_fit_folder(folder / directory, model=model, seed=seed, fold=fold, folds=folds,
                                     scores=scores, task=task, targets=targets, zoo=zoo)
                runs.append({"fold": fold, "seed": seed, "train_fraction": fraction, "setting": {},
                             "n_train": round(n_train * fraction), "n_test": n_test,
                             "metrics": {"train": scores, "val": scores, "test": scores},
                             "dir": directory, "seconds": 1.0})
    document = {
        "settings": {"zoo": f"results/{zoo}/zoo.parquet", "zoo_name": zoo, "task": task, "targets": list(targets),
                     "model": model, "folds": folds, "seeds": list(seeds), "trials": len(grid or {}) or 1,
                     "grid": grid or {}, "train_fractions": list(fractions), "preset": None,
                     "selection_seed": seeds[0]},
        "selection": selection or [],
        "chosen": chosen or {str(k): {} for k in range(folds)},
        "runs": runs,
        "timings": {"load_s": 1.0, "total_s": 10.0},
    }
    (folder / "cv.json").write_text(json.dumps(document))
    return folder


def measured(r2: float, low: float, high: float, tau: float, tau_low: float, tau_high: float) -> dict:
    """A measured label's entry (the fields of lolzoo.report.reliability.Reliability the report reads)."""
    return {"status": "measured", "method": "test-retest (Pearson correlation)", "n": 40, "confidence": 0.95,
            "resamples": 2000, "correlation": r2, "reliability": r2, "reliability_low": low,
            "reliability_high": high, "ceiling_r2": r2, "ceiling_r2_low": low, "ceiling_r2_high": high,
            "ceiling_tau": tau, "ceiling_tau_low": tau_low, "ceiling_tau_high": tau_high,
            "ceilings_clipped": False}


def write_reliability(path: Path, zoo: str, labels: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"zoo": zoo, "sample": 40, "seeds": {"first": 0, "second": 1}, "labels": labels}))
    return path
