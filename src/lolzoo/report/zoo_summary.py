"""A packed zoo at a glance: what it holds (LoRAs, modules, ranks, size) and its labels'
distributions, read from the Parquet file without loading any weights."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from lolzoo.zoo.load import read_zoo_info

MAX_CLASSES_SHOWN = 10


def zoo_facts(path: str | os.PathLike) -> pd.DataFrame:
    """quantity, value rows: the zoo's size and shape."""
    info = read_zoo_info(path)
    ranks = sorted(set(pq.read_table(path, columns=["rank"]).column("rank").to_pylist()))
    per_rank = sum(module.n + module.m for module in info.modules)  # U and V numbers per unit of rank
    facts = [("zoo", info.zoo), ("base model", info.base_model), ("LoRAs", pq.ParquetFile(path).metadata.num_rows),
             ("adapted modules", len(info.modules)),
             ("module kinds", ", ".join(sorted({m.name.rsplit(".", 1)[-1] for m in info.modules}))),
             ("ranks", ", ".join(map(str, ranks))),
             ("numbers per LoRA (largest rank)", per_rank * max(ranks, default=0)),
             ("file size (MB)", round(Path(path).stat().st_size / 2 ** 20, 2))]
    return pd.DataFrame([(name, str(value)) for name, value in facts], columns=["quantity", "value"])


def label_statistics(path: str | os.PathLike) -> pd.DataFrame:
    """Per label column: non-missing count, then mean/std/min/max (numbers, 0/1) or the classes seen."""
    columns = list(read_zoo_info(path).label_columns)
    frame = pq.read_table(path, columns=columns).to_pandas()
    rows = []
    for name in columns:
        values = frame[name].dropna()
        row = {"label": name, "count": len(values)}
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            numbers = values.astype("float64")
            row.update(mean=numbers.mean(), std=numbers.std(ddof=0), min=numbers.min(), max=numbers.max())
        else:
            counts = values.astype(str).value_counts()
            shown = "; ".join(f"{value}: {count}" for value, count in counts.head(MAX_CLASSES_SHOWN).items())
            row["classes"] = shown + ("; ..." if len(counts) > MAX_CLASSES_SHOWN else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=["label", "count", "mean", "std", "min", "max", "classes"]).round(4)
