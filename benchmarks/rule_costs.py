"""Wall time and peak memory per rule of a finished workflow run, from its `benchmark:` files.

    python benchmarks/rule_costs.py runs/paper-shapes/results      # a Markdown table

Every rule writes a Snakemake benchmark file (one row: `s`, `max_rss` in MB, ...). The rules
whose files feed the report keep their places (results/benchmarks/<zoo>/finetune/, evaluate/,
retest/, lol/, pack.tsv; bases/pretrain/); every other rule's file is under
results/benchmarks/rules/<rule>/. A job group is a rule, or a zoo's stage for the former.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lolzoo.report.benchmarks import read_benchmark  # noqa: E402


def job_group(relative: Path) -> str:
    """rules/<rule>/... -> <rule>; bases/pretrain/<base> -> pretrain_base; <zoo>/<stage>/<shard> ->
    '<stage> (<zoo>)'; <zoo>/pack.tsv -> 'pack (<zoo>)'."""
    parts = relative.parts
    if parts[0] == "rules":
        return parts[1]
    if parts[:2] == ("bases", "pretrain"):
        return "pretrain_base"
    if len(parts) == 2:
        return f"{relative.stem} ({parts[0]})"
    return f"{parts[1]} ({parts[0]})"


def rule_costs(results: Path) -> pd.DataFrame:
    """One row per job group: jobs, summed and longest wall time (s), largest peak RSS (GB)."""
    root = results / "benchmarks"
    files = sorted(root.rglob("*.tsv"))
    if not files:
        raise SystemExit(f"{root}: no benchmark files (is this a finished run's results folder?)")
    records = pd.DataFrame([{"group": job_group(path.relative_to(root)), **read_benchmark(path)} for path in files])
    table = records.groupby("group", sort=False).agg(jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"),
                                                      peak_rss_gb=("max_rss_mb", "max"))
    table["peak_rss_gb"] = table["peak_rss_gb"] / 1024
    return table.sort_values("total_s", ascending=False).round(2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a run's results folder (holds benchmarks/)")
    args = parser.parse_args(argv)
    table = rule_costs(args.results)
    print(table.to_markdown())
    print(f"\n{int(table['jobs'].sum())} jobs, {table['total_s'].sum() / 3600:.2f} job-hours "
          f"(summed wall time of the jobs; side-by-side jobs overlap), largest peak {table['peak_rss_gb'].max():.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
