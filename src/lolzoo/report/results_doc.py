"""The results document (issue 18, item 6): one Markdown file assembled from the tables the
workflow wrote in results/report/<zoo>/, so that docs/results.md quotes only numbers the
workflow wrote. Nothing here computes a score except the claims' paired differences
(lolzoo.report.claims); every table is copied from its file or laid out from its CSV.

Per zoo, in this order, each where its file exists: the label reliability (reliability.md),
the comparison (comparison.md), the tuned settings (tuning.md), the learning-curve points
(learning_curves.csv, and the figure's path), the speed-up (speedup.csv), rank generalisation
(ranks.csv) and cross-base transfer (transfer.md).
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

import pandas as pd

from lolzoo.report.claims import RULES, Verdict
from lolzoo.report.claims import markdown as claims_markdown
from lolzoo.report.compare import _decimal

# the files of results/report/<zoo>/ the document reads, in the order it shows them
FILES = {
    "reliability": "reliability.md",
    "comparison": "comparison.md",
    "tuning": "tuning.md",
    "learning_curves": "learning_curves.csv",
    "speedup": "speedup.csv",
    "ranks": "ranks.csv",
    "transfer": "transfer.md",
}
CSV_FILES = {"comparison": "comparison.csv", "ranks": "ranks.csv", "transfer": "transfer.csv"}
SECTIONS = {
    "reliability": "Label reliability and noise ceiling",
    "comparison": "The LoL models against each other",
    "tuning": "Tuned settings",
    "learning_curves": "Learning curves",
    "speedup": "Evaluation speed-up",
    "ranks": "Rank generalisation",
    "transfer": "Cross-base transfer",
}


@dataclass(frozen=True)
class Machine:
    platform: str
    cpus: int
    python: str
    torch: str


def this_machine() -> Machine:
    """Where the document was written (the machine that ran the workflow's last job)."""
    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return Machine(platform.platform(), os.cpu_count() or 0, platform.python_version(), torch)


def header(world: str, command: str, day: date, machine: Machine) -> str:
    return "\n".join([
        f"# Results of the `{world}` world",
        "",
        f"**Command.** `{command}`, from a fresh clone. **Written** on {day.isoformat()} by the workflow's "
        f"`results_doc` rule (`lolzoo results-doc`), on {machine.platform} with {machine.cpus} CPUs, "
        f"Python {machine.python}, torch {machine.torch}.",
        "",
        "Every number below is copied from a file the workflow wrote under `results/` (named beside each "
        "table), or computed by this rule from those files (the claims' paired differences, from the fit-cv "
        "folders the comparison read); none is typed by hand. Rerun the command to get the files back.",
        "",
    ])


def claims_section(verdicts: list[Verdict]) -> str:
    return "\n".join([
        "## The paper's claims",
        "",
        "Each of the paper's claims (Putterman et al. 2025, *Learning on LoRAs*), decided from our intervals: "
        "**supported**, **contradicted**, **cannot decide** (the intervals allow both), or **not run in this "
        "world**. How each is decided:",
        "",
        *[f"- {rule}" for rule in RULES],
        "",
        claims_markdown(verdicts),
    ])


def learning_curve_table(table: pd.DataFrame, figure: str) -> str:
    """Per task: one row per model, one column per training share (mean [interval] at its mean
    number of training LoRAs), and the noise ceiling under it where the file has one."""
    if table.empty:
        return "No learning-curve points.\n"
    parts = []
    for (task, targets, metric), rows in table.groupby(["task", "targets", "metric"], sort=False):
        points = rows[rows["train_fraction"].notna()]
        fractions = sorted(set(points["train_fraction"]))
        columns = []
        for fraction in fractions:
            n_train = points.loc[points["train_fraction"] == fraction, "n_train"].mean()
            columns.append(f"{fraction:g} ({n_train:.0f} LoRAs)")
        lines = [f"**{task}: {targets}** ({metric}, mean [95% interval])", "",
                 "| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
        for name, own in points.groupby("name", sort=False):
            cells = []
            for fraction in fractions:
                hit = own[own["train_fraction"] == fraction]
                cells.append(_interval(hit.iloc[0]) if len(hit) else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        ceiling = rows[rows["train_fraction"].isna()]
        if len(ceiling):
            c = ceiling.iloc[0]
            text = "exact (a data label)" if str(c["scope"]) == "exact" else _interval(c)
            lines += ["", f"Noise ceiling: {text}."]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + f"\n\nThe figure: `{figure}`.\n"


def _interval(row) -> str:
    mean, low, high = float(row["mean"]), float(row["low"]), float(row["high"])
    if math.isnan(low) or math.isnan(high):
        return f"{_decimal(mean, 3)}"
    return f"{_decimal(mean, 3)} [{_decimal(low, 3)}, {_decimal(high, 3)}]"


def speedup_table(table: pd.DataFrame) -> str:
    lines = ["| model | fits | LoL s / LoRA | evaluation s / LoRA | speed-up |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['name']} | {int(r['fits'])} | {_significant(r['lol_s_per_lora'])} | "
                     f"{_significant(r['evaluation_s_per_lora'])} | {_significant(r['speedup'])}× |")
    return "\n".join(lines) + ("\n\nLoL: the median over the zoo's fits of preprocessing and prediction time per "
                               "LoRA; evaluation: the zoo's evaluate jobs' wall time per LoRA (their benchmark files).\n")


def _significant(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else "—"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def ranks_table(table: pd.DataFrame) -> str:
    parts = []
    for targets, rows in table.groupby("targets", sort=False):
        trained = str(rows["trained_on"].iloc[0])
        ranks = sorted(set(rows["rank"].astype(int)))
        trained_set = {r.strip() for r in trained.split(",")}
        heads = [f"rank {r}" + (" (trained)" if str(r) in trained_set else "") for r in ranks]
        metric = str(rows["metric"].iloc[0])
        lines = [f"**{rows['task'].iloc[0]}: {targets}** (test {metric} per LoRA rank, mean ± std over runs; "
                 f"trained on rank {trained})", "",
                 "| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(ranks)]
        for name, own in rows.groupby("name", sort=False):
            cells = []
            for rank in ranks:
                hit = own[own["rank"].astype(int) == rank]
                cells.append("" if hit.empty else
                             f"{_decimal(float(hit['mean'].iloc[0]), 3)} ± {_decimal(float(hit['std'].iloc[0]), 3)}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        counts = rows.groupby(rows["rank"].astype(int))["loras"].max()
        lines.append("| test LoRAs | " + " | ".join(str(int(counts.get(r, 0))) for r in ranks) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def zoo_section(zoo: str, folder: Path, shown: str | None = None) -> str:
    """The tables of one zoo's report folder that exist; `shown` is the folder as the document names it."""
    shown = shown or str(folder)
    out = [f"## {zoo}", ""]
    for key, name in FILES.items():
        path = folder / name
        if not path.is_file():
            continue
        source = f"`{shown}/{name}`"
        if key == "learning_curves":
            body = learning_curve_table(pd.read_csv(path), f"{shown}/learning_curves.png")
        elif key == "speedup":
            body = speedup_table(pd.read_csv(path))
            source = f"`{shown}/speedup.csv`"
        elif key == "ranks":
            body = ranks_table(pd.read_csv(path, dtype={"trained_on": str}))
            source = f"`{shown}/ranks.csv` (figure: `{shown}/ranks.png`)"
        else:
            body = path.read_text()
        out += [f"### {SECTIONS[key]}", "", f"From {source}.", "", body.rstrip("\n"), ""]
    if len(out) == 2:
        out += ["No report table was found for this zoo.", ""]
    return "\n".join(out)


def document(world: str, command: str, zoos: dict[str, Path], verdicts: list[Verdict],
             day: date | None = None, machine: Machine | None = None) -> str:
    parts = [header(world, command, day or date.today(), machine or this_machine()), claims_section(verdicts)]
    parts += [zoo_section(zoo, folder) for zoo, folder in zoos.items()]
    return "\n".join(parts).rstrip("\n") + "\n"


def read_tables(zoos: dict[str, Path]) -> tuple[pd.DataFrame, dict, dict]:
    """The CSVs the claims read: every zoo's comparison.csv (one frame), ranks.csv and transfer.csv per zoo."""
    comparisons, ranks, transfer = [], {}, {}
    for zoo, folder in zoos.items():
        if (folder / CSV_FILES["comparison"]).is_file():
            comparisons.append(pd.read_csv(folder / CSV_FILES["comparison"], dtype={"targets": str}))
        if (folder / CSV_FILES["ranks"]).is_file():
            ranks[zoo] = pd.read_csv(folder / CSV_FILES["ranks"], dtype={"trained_on": str, "targets": str})
        if (folder / CSV_FILES["transfer"]).is_file():
            transfer[zoo] = pd.read_csv(folder / CSV_FILES["transfer"])
    comparison = pd.concat(comparisons, ignore_index=True) if comparisons else pd.DataFrame(
        columns=["zoo", "task", "targets", "metric", "row", "mean", "low", "high"])
    return comparison, ranks, transfer
