"""The outputs of one `lolzoo fit` run, written into one folder at once:

    metrics.json         settings, train/val/test metrics, best epoch, history, timings, sizes
    predictions.parquet  lora_id, split, target, label, prediction: one row per LoRA and target
    model.safetensors, model.json   the trained model (lolzoo.lol.artifacts)

In predictions.parquet, `label` and `prediction` are in label units: regression values;
for multilabel the 0/1 label and the predicted probability of 1; for multiclass the true and
the predicted class.  `label` is null where the zoo has no value (such LoRAs are predicted
but not trained or scored on); `split` is the LoRA's split all the same.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lolzoo.io import atomic_dir
from lolzoo.lol.artifacts import jsonable, write_model_files
from lolzoo.lol.train import FitResult, settings_dict
from lolzoo.zoo.load import Zoo

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.parquet"
PREDICTION_COLUMNS = ("lora_id", "split", "target", "label", "prediction")


def predictions_frame(result: FitResult) -> pd.DataFrame:
    """One row per LoRA and target, LoRAs in zoo order and each LoRA's targets together."""
    targets = result.task.targets
    predicted = result.task.point_predictions(result.outputs)  # (LoRAs, targets)
    labels = np.full(predicted.shape, None, dtype=object)
    labels[result.labelled] = result.labels
    count = len(result.lora_ids)
    frame = pd.DataFrame({
        "lora_id": np.repeat(np.asarray(result.lora_ids, dtype=object), len(targets)),
        "split": np.repeat(result.splits, len(targets)),
        "target": np.tile(np.asarray(targets, dtype=object), count),
        "label": labels.reshape(-1),
        "prediction": predicted.reshape(-1),
    })
    if result.task.kind != "multiclass":  # numbers, with NaN for a missing label
        frame["label"] = frame["label"].astype("float64")
        frame["prediction"] = frame["prediction"].astype("float64")
    return frame


def metrics_document(result: FitResult, command: dict, extra_timings: dict | None = None) -> dict:
    """metrics.json: `command` holds the settings the run was asked for (zoo path, names, ...)."""
    from lolzoo import __version__

    return jsonable({
        "lolzoo_version": __version__,
        "settings": {**command, "task": result.task.kind, "targets": result.task.targets,
                     "model": result.model_kind, "seed": result.seed, **settings_dict(result.settings),
                     "model_hparams": result.model_hparams},
        "model_config": result.model.config(),
        "metrics": result.metrics,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "timings": {**result.timings, **(extra_timings or {})},
        "sizes": result.sizes,
    })


def write_fit_outputs(out_dir: str | Path, result: FitResult, zoo: Zoo, command: dict,
                      extra_timings: dict | None = None, overwrite: bool = False) -> Path:
    """metrics, predictions and the model, staged together and renamed into `out_dir`."""
    import json

    zoo_json = {"name": zoo.info.zoo, "base_model": zoo.info.base_model, "path": str(zoo.path),
                "schema_version": zoo.info.schema_version, **zoo_provenance(zoo)}
    training = {"seed": result.seed, "settings": settings_dict(result.settings),
                "model_hparams": result.model_hparams, "best_epoch": result.best_epoch}
    with atomic_dir(out_dir, overwrite=overwrite) as staging:
        write_model_files(staging, result.model, result.task, zoo.modules, result.sizes["rank"], zoo_json, training)
        predictions_frame(result).to_parquet(staging / PREDICTIONS_FILE, index=False)
        document = metrics_document(result, command, extra_timings)
        (staging / METRICS_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return Path(out_dir)


def zoo_provenance(zoo: Zoo) -> dict:
    """What model.json keeps of its zoo's provenance (the base's identity and hash, the config and its
    hash: a model card describes the labels from it) and the zoo file's own sha256, so a published model names the exact zoo it was trained on."""
    kept = {key: zoo.info.provenance[key]
            for key in ("base", "world", "config_sha256", "lolzoo_version", "zoo_config") if key in zoo.info.provenance}
    return {"provenance": kept, "sha256": file_sha256(zoo.path)}


@functools.lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file, once per process while it is unchanged (fit-cv saves a model per fold and seed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _cached_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


CV_FILE = "cv.json"  # what `lolzoo fit-cv` writes at the top of its folder (lolzoo.lol.cv)


def fit_folders(path: str | Path) -> list[Path]:
    """The `lolzoo fit` output folders a path stands for: itself when it is one, else, for a
    `lolzoo fit-cv` folder, its fold*/seed* fits (fold, then seed, in numeric order); a path
    that is neither gives [] (the caller names the problem)."""
    path = Path(path)
    if (path / METRICS_FILE).is_file():
        return [path]
    if not (path / CV_FILE).is_file():
        return []

    def number(part: Path, prefix: str) -> int:
        text = part.name[len(prefix):]
        return int(text) if text.isdigit() else -1

    folds = sorted((p for p in path.glob("fold*") if p.is_dir() and number(p, "fold") >= 0),
                   key=lambda p: number(p, "fold"))
    return [seed for fold in folds
            for seed in sorted((p for p in fold.glob("seed*") if (p / METRICS_FILE).is_file()
                                and number(p, "seed") >= 0), key=lambda p: number(p, "seed"))]
