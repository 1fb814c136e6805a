"""Summaries of Snakemake `benchmark:` files: time and memory per job, per stage.

A benchmark file is a one-row TSV (`s`, `max_rss` in MB, ...) written by Snakemake around a
job. Its stage is the folder it sits in (results/benchmarks/<zoo>/finetune/<shard>.tsv is a
finetune job); a shard's file name (`celeba-00000-00049`) says how many LoRAs the job made.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from lolzoo.errors import LolzooError

SHARD_NAME = re.compile(r"^[a-z][a-z0-9_]*-(\d{5})-(\d{5})$")
COLUMNS = ["stage", "jobs", "loras", "total_s", "mean_s", "max_s", "s_per_lora", "mean_rss_mb", "max_rss_mb"]


class BenchmarkError(LolzooError):
    """A file that is not a Snakemake benchmark file."""


def read_benchmark(path: str | Path) -> dict:
    """One job's record: stage, LoRAs made (None unless a shard), seconds, peak RSS in MB."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t")
        seconds, rss = float(frame["s"].iloc[-1]), pd.to_numeric(frame["max_rss"], errors="coerce").iloc[-1]
    except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError) as err:
        raise BenchmarkError(f"{path}: not a Snakemake benchmark file ({err})") from err
    match = SHARD_NAME.match(path.stem)
    loras = int(match.group(2)) - int(match.group(1)) + 1 if match else None
    return {"stage": path.parent.name, "loras": loras, "s": seconds, "max_rss_mb": float(rss)}


def summarize(paths: list[str | Path]) -> pd.DataFrame:
    """One row per stage, in the order stages first appear."""
    records = pd.DataFrame([read_benchmark(p) for p in paths], columns=["stage", "loras", "s", "max_rss_mb"])
    rows = []
    for stage, jobs in records.groupby("stage", sort=False):
        loras = jobs["loras"].dropna()
        counted = len(loras) == len(jobs)  # s per LoRA only when every job says its LoRAs
        rows.append({
            "stage": stage, "jobs": len(jobs), "loras": int(loras.sum()) if counted else None,
            "total_s": jobs["s"].sum(), "mean_s": jobs["s"].mean(), "max_s": jobs["s"].max(),
            "s_per_lora": jobs["s"].sum() / loras.sum() if counted and loras.sum() else None,
            "mean_rss_mb": jobs["max_rss_mb"].mean(), "max_rss_mb": jobs["max_rss_mb"].max(),
        })
    return pd.DataFrame(rows, columns=COLUMNS).round(3)
