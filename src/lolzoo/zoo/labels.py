"""Per-LoRA label files (`<lora_id>.json`, one flat JSON object each) into one label table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from lolzoo.errors import LolzooError

SCALARS = (str, int, float, bool, type(None))


class LabelFileError(LolzooError):
    """A label file that is not a flat JSON object of scalars."""


def read_label_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LabelFileError(f"{path}: not a readable JSON label file ({err})") from None
    if not isinstance(data, dict):
        raise LabelFileError(f"{path}: a label file holds one JSON object, got {type(data).__name__}")
    nested = [key for key, value in data.items() if not isinstance(value, SCALARS)]
    if nested:
        raise LabelFileError(f"{path}: labels must be numbers, strings or booleans; {nested} are not")
    if "lora_id" in data and data["lora_id"] != path.stem:
        raise LabelFileError(f"{path}: names lora_id {data['lora_id']!r} but the file is {path.name}")
    return data


def gather_labels(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per file, lora_id from the file name, columns in first-seen order."""
    rows = []
    for path in map(Path, paths):
        rows.append({**read_label_file(path), "lora_id": path.stem})
    if not rows:
        raise LabelFileError("no label files given")
    table = pd.DataFrame(rows)
    return table[["lora_id"] + [c for c in table.columns if c != "lora_id"]]
