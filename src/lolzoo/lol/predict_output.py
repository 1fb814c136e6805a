"""How `lolzoo predict` prints its records: JSON lines or CSV, one record as soon as it is
scored, or an aligned plain-text table at the end (for people; it keeps the rows' text).

A record names the input, the model and its prediction in label units:

    {"path", "model": the --model folder, "kind": "glnet", "task": "regression",
     "prediction": 31.2 | {label: value, ...} | {"class": c, "probabilities": {...}},
     "notices": [...], "seconds": read + predict}

CSV and the table flatten a dict prediction into one column per label (`prediction.<label>`,
`prediction.probabilities.<class>`), with the columns fixed by the model's task, so every run
of one model has the same header whatever its inputs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TextIO

import torch

from lolzoo.lol.artifacts import TrainedModel, jsonable
from lolzoo.lol.predict import Prediction

NOTICE_SEPARATOR = "; "


def prediction_record(path: Path, model_folder: Path, trained: TrainedModel, prediction: Prediction,
                      seconds: float) -> dict:
    return {"path": str(path), "model": str(model_folder), "kind": trained.model.kind, "task": trained.task.kind,
            "prediction": prediction.value, "notices": list(prediction.notices), "seconds": seconds}


def flat_record(record: dict) -> dict:
    """One value per column: nested dicts joined with dots, notices joined into one text."""
    flat = {}

    def put(prefix: str, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                put(f"{prefix}.{key}", inner)
        else:
            flat[prefix] = value

    for key, value in jsonable(record).items():
        put(key, NOTICE_SEPARATOR.join(value) if key == "notices" else value)
    return flat


def record_columns(trained: TrainedModel) -> list[str]:
    """The flat columns of this model's records, from what its task describes for any output."""
    example = trained.task.describe(torch.zeros(1, trained.task.out_dim))[0]
    return list(flat_record({"path": "", "model": "", "kind": "", "task": "", "prediction": example,
                             "notices": [], "seconds": 0.0}))


class JsonLinesWriter:
    def __init__(self, stream: TextIO, columns: list[str]):
        self.stream = stream

    def write(self, record: dict) -> None:
        print(json.dumps(jsonable(record)), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class CsvWriter:
    def __init__(self, stream: TextIO, columns: list[str]):
        self.stream = stream
        self.writer = csv.DictWriter(stream, columns, lineterminator="\n")
        self.writer.writeheader()  # even when every input is refused: still a CSV with its columns

    def write(self, record: dict) -> None:
        self.writer.writerow(flat_record(record))
        self.stream.flush()

    def close(self) -> None:
        pass


class TableWriter:
    def __init__(self, stream: TextIO, columns: list[str]):
        self.stream, self.columns, self.rows = stream, columns, []

    def write(self, record: dict) -> None:
        flat = flat_record(record)
        self.rows.append([_cell(flat.get(column)) for column in self.columns])

    def close(self) -> None:
        if not self.rows:
            return
        widths = [max(len(row[i]) for row in [self.columns, *self.rows]) for i in range(len(self.columns))]
        for row in [self.columns, *self.rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=self.stream)


WRITERS = {"jsonl": JsonLinesWriter, "csv": CsvWriter, "table": TableWriter}


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
