"""A trained model on disk: `model.safetensors` (weights and fitted buffers) + `model.json`.

model.json holds everything else needed to use the weights, and nothing needs unpickling:

    format, format_version, lolzoo_version
    model      the model's config() (kind, shapes, rank, out_dim, hparams): rebuilds it via the registry
    task       kind, targets, and the way back to label units (regression mean/std, class list)
    layout     rank and the zoo's ordered modules (name, key, n, m, conv_kernel): what a LoRA must match
    zoo        name, base model, path and schema version of the zoo it was trained on
    training   seed, settings (lr, weight_decay, batch_size, epochs, split), model hparams, best epoch
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lolzoo.errors import LolzooError
from lolzoo.lol.base import LoLModel
from lolzoo.lol.tasks import Task, task_from_json
from lolzoo.zoo.schema import ModuleSpec

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
FORMAT = "lolzoo-model"
FORMAT_VERSION = 1


class ArtifactError(LolzooError):
    """A model folder that is missing, incomplete or from a newer lolzoo."""


@dataclass
class TrainedModel:
    model: LoLModel  # eval mode
    task: Task
    modules: list[ModuleSpec]  # the layout a LoRA must match, in order
    rank: int
    info: dict  # the whole model.json


def write_model_files(folder: Path, model: LoLModel, task: Task, modules: list[ModuleSpec], rank: int,
                      zoo: dict, training: dict) -> None:
    """Write model.safetensors and model.json into an existing folder (the caller makes it atomic)."""
    from safetensors.torch import save_model

    from lolzoo import __version__

    save_model(model, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "lolzoo_model": model.config()["kind"]})
    info = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "lolzoo_version": __version__,
        "model": model.config(),
        "task": task.to_json(),
        "layout": {"rank": int(rank), "modules": [asdict(spec) for spec in modules]},
        "zoo": zoo,
        "training": training,
    }
    (folder / CONFIG_FILE).write_text(json.dumps(jsonable(info), indent=2, sort_keys=True) + "\n")


def load_model_folder(folder: str | Path) -> TrainedModel:
    """Rebuild the model from model.json and load its weights strictly (every tensor must be there)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    from lolzoo.lol.registry import model_from_config

    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ArtifactError(f"{folder}: not a trained model folder (no {path.name})")
    try:
        info = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{config_path}: not JSON ({err})") from err
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ArtifactError(f"{config_path}: not a lolzoo model description (format {FORMAT!r} expected)")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ArtifactError(f"{config_path}: model format version {info['format_version']} is newer than this "
                            f"lolzoo reads (up to {FORMAT_VERSION}); upgrade lolzoo")
    try:
        model = model_from_config(info["model"])
        task = task_from_json(info["task"])
        modules = [ModuleSpec(**spec) for spec in info["layout"]["modules"]]
        rank = int(info["layout"]["rank"])
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"{config_path}: incomplete or invalid model description ({err})") from err
    try:
        load_model(model, str(weights_path), strict=True)
    except (RuntimeError, SafetensorError, OSError) as err:
        raise ArtifactError(f"{weights_path}: weights do not fit the model in {CONFIG_FILE} ({err})") from err
    model.eval()
    return TrainedModel(model, task, modules, rank, info)


def jsonable(value):
    """Plain JSON: numpy scalars as numbers, tuples as lists, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
