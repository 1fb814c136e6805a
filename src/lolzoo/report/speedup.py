"""How much faster a LoL model labels a LoRA than the standard evaluation it replaces.

Standard evaluation: the wall time per LoRA of the zoo's evaluate jobs (generating images
and scoring their CLIP score; answering ARC-Challenge), from their benchmark files, start-up
and model loading included. LoL: per LoRA, the fitted model's preprocessing and prediction
time over the whole zoo (`timings` of its metrics.json), measured on the same machine. The
paper reports LoL prediction "over 50,000 times faster".
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from lolzoo.lol.results import METRICS_FILE
from lolzoo.report.benchmarks import BenchmarkError, read_benchmark
from lolzoo.report.compare import MODEL_NAMES, row_order

COLUMNS = ["model", "name", "fits", "lol_s_per_lora", "evaluation_s_per_lora", "speedup"]


def evaluation_seconds_per_lora(benchmarks: list[str | Path]) -> float:
    """Wall seconds per LoRA of the evaluate jobs, over all of them."""
    records = [read_benchmark(path) for path in benchmarks]
    if not records or any(r["loras"] is None for r in records):
        raise BenchmarkError("the evaluation benchmarks must be shard files (<zoo>-<first>-<last>.tsv)")
    return sum(r["s"] for r in records) / sum(r["loras"] for r in records)


def lol_seconds_per_lora(fit_folder: str | Path) -> float:
    """Preprocessing plus prediction time per LoRA of one fitted model, over the whole zoo."""
    document = json.loads((Path(fit_folder) / METRICS_FILE).read_text())
    timings, loras = document["timings"], document["sizes"]["loras"]
    return (timings["preprocess_s"] + timings["predict_s"]) / loras


def speedup_table(fit_folders: list[str | Path], evaluation_s: float) -> pd.DataFrame:
    """One row per model kind: its median LoL time per LoRA over every fit (tasks, folds, seeds)."""
    per_model = defaultdict(list)
    for folder in fit_folders:
        settings = json.loads((Path(folder) / METRICS_FILE).read_text())["settings"]
        per_model[settings["model"]].append(lol_seconds_per_lora(folder))
    rows = []
    for model in row_order(set(per_model)):
        lol_s = float(np.median(per_model[model]))
        rows.append({"model": model, "name": MODEL_NAMES.get(model, model), "fits": len(per_model[model]),
                     "lol_s_per_lora": lol_s, "evaluation_s_per_lora": evaluation_s,
                     "speedup": evaluation_s / lol_s if lol_s > 0 else float("inf")})
    return pd.DataFrame(rows, columns=COLUMNS)
