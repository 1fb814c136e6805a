"""`lolzoo reliability --zoo ZOO.parquet --retest PATH... [--targets LIST] [--seeds A,B]
[--min-loras N] --out STEM`: how repeatable a zoo's evaluated labels are, and their noise ceiling.

--retest names the re-measurement's label files (folders of <lora_id>.json, or single files):
`lolzoo evaluate-diffusion --seed` under an independent seed, or `lolzoo evaluate-language
--halves`. Every label the evaluation measures, and every label --targets names (LoL task
targets; `class_*` stands for each matching column), gets a row (lolzoo.report.reliability_table).
Writes STEM.json (contract 18 B), STEM.csv (numbers), STEM.md and STEM.html (value [95% interval]).
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.report.reliability import MIN_LORAS


def add_arguments(parser) -> None:
    parser.add_argument("--zoo", required=True, type=Path, help="the packed zoo (.parquet): the first measurement")
    parser.add_argument("--retest", required=True, nargs="+", type=Path, metavar="PATH",
                        help="the second measurement: label folders (<lora_id>.json) or label files")
    parser.add_argument("--targets", default="", metavar="LIST",
                        help="comma-separated labels the zoo's LoL tasks target (class_* patterns allowed)")
    parser.add_argument("--seeds", metavar="A,B",
                        help="the two evaluation seeds of a test-retest (recorded in the JSON)")
    parser.add_argument("--min-loras", type=int, default=MIN_LORAS, metavar="N",
                        help=f"refuse an estimate from fewer LoRAs (default {MIN_LORAS}; fewer than {MIN_LORAS} "
                             "is marked indicative only)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--out", required=True, type=Path, help="output path without suffix (STEM.json, .csv, ...)")


def run(args) -> int:
    import pandas as pd
    import pyarrow.parquet as pq

    from lolzoo.errors import LolzooError
    from lolzoo.io import atomic_file, atomic_write_json, atomic_write_text
    from lolzoo.report.html_table import html_page
    from lolzoo.report.reliability_table import (caption, label_rows, markdown, read_retest, reliability_frame,
                                                 reliability_report, shown_frame)
    from lolzoo.zoo.load import read_zoo_info
    from lolzoo.zoo.schema import ID_COLUMN

    seeds = None
    if args.seeds:
        try:
            first, second = (int(part) for part in args.seeds.split(","))
        except ValueError:
            raise LolzooError(f"--seeds {args.seeds}: two integers like 42,43") from None
        seeds = (first, second)
    if not args.zoo.is_file():
        raise LolzooError(f"--zoo {args.zoo}: no such file")
    retest = read_retest(args.retest)  # a missing retest file fails before the zoo is read
    info = read_zoo_info(args.zoo)
    columns = list(pq.read_schema(args.zoo).names)
    targets = [target.strip() for target in args.targets.split(",") if target.strip()]
    labels = label_rows(columns, list(info.label_columns), targets)
    table = pd.read_parquet(args.zoo, columns=[ID_COLUMN, *labels])
    report = reliability_report(table, info.zoo, retest, labels, seeds, args.min_loras, resamples=args.resamples)

    stem = args.out.with_suffix("") if args.out.suffix in (".json", ".csv", ".md", ".html") else args.out
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(f"{stem}.json"), report)
    with atomic_file(Path(f"{stem}.csv")) as tmp:
        reliability_frame(report).to_csv(tmp, index=False)
    shown, note = shown_frame(report), caption(report)
    atomic_write_text(Path(f"{stem}.md"), markdown(shown, note))
    atomic_write_text(Path(f"{stem}.html"), html_page(shown, note))
    measured = {k: v for k, v in report["labels"].items() if v["status"] == "measured"}
    summary = ", ".join(f"{k} {v['reliability']:.2f}" for k, v in measured.items()) or "none measured"
    print(f"{report['zoo']}: {report['sample']} LoRAs measured twice; reliability {summary} -> {stem}.json")
    return 0
