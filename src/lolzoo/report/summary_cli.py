"""`lolzoo summarize-zoo --zoo ZOO.parquet [--benchmarks TSV...] --out DIR`: a zoo's summary tables.

Writes DIR/zoo.csv (size and shape), DIR/labels.csv (label distributions) and
DIR/benchmarks.csv (time and memory per job of each stage that made it), each also as an
HTML page (the report's view of it), all at once.
"""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--zoo", required=True, type=Path, help="the packed zoo (.parquet)")
    parser.add_argument("--benchmarks", nargs="*", type=Path, default=[], metavar="TSV",
                        help="Snakemake benchmark files of the jobs that made the zoo; the folder a "
                             "file is in names its stage (finetune, evaluate, ...)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be new or empty)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.io import atomic_dir
    from lolzoo.report.benchmarks import summarize
    from lolzoo.report.html_table import html_page
    from lolzoo.report.zoo_summary import label_statistics, zoo_facts

    facts, labels, benchmarks = zoo_facts(args.zoo), label_statistics(args.zoo), summarize(args.benchmarks)
    with atomic_dir(args.out, overwrite=args.overwrite) as staging:
        for name, table in (("zoo", facts), ("labels", labels), ("benchmarks", benchmarks)):
            table.to_csv(staging / f"{name}.csv", index=False)
            (staging / f"{name}.html").write_text(html_page(table))
    print(f"{args.zoo}: {len(labels)} labels, {len(benchmarks)} benchmarked stages -> {args.out}")
    return 0
