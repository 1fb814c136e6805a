"""`lolzoo compare DIR... --out TABLE [--reliability FILE...] [--tuning TUNING]`: TABLE.csv,
TABLE.md and TABLE.html, the comparison with 95% intervals over folds × seeds, marks from paired
differences to the best row, the ridge reference, the trivial baseline and the noise ceiling
(lolzoo.report.comparison_table); with --tuning, TUNING.csv/.md/.html, the settings the grid
chose (lolzoo.report.tuning).

DIR is a `lolzoo fit-cv` folder (cv.json) or a plain `lolzoo fit` folder (metrics.json): one
run of one fold, so plain fits of several seeds on the fixed split give seeds-only intervals.
The trivial baseline is scored from the fit folders (fold*/seed*): a (zoo, task) given only as
the reference's fit-cv folder, which writes none, has no baseline row.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.lol.split import SPLITS

SUFFIXES = (".csv", ".md", ".html")


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="folders written by `lolzoo fit-cv` (cv.json) or `lolzoo fit` (metrics.json)")
    parser.add_argument("--out", required=True, type=Path,
                        help="table path without suffix: writes TABLE.csv, TABLE.md and TABLE.html")
    parser.add_argument("--reliability", nargs="*", default=[], type=Path, metavar="FILE",
                        help="reliability.json files of the zoos (their noise ceilings); none: no ceiling row")
    parser.add_argument("--tuning", type=Path, metavar="TUNING",
                        help="also write the tuned settings: TUNING.csv, TUNING.md and TUNING.html")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split scored (default test)")


def stem(path: Path) -> Path:
    return path.with_suffix("") if path.suffix in SUFFIXES else path


def run(args) -> int:
    from lolzoo.io import atomic_file, atomic_write_text
    from lolzoo.report import comparison_table, tuning
    from lolzoo.report.ceilings import read_reliability
    from lolzoo.report.cv_scores import read_scores

    reliability = read_reliability(args.reliability)
    scores = read_scores(args.runs, args.split)
    long = comparison_table.interval_table(scores, reliability)
    base = stem(args.out)
    written = [Path(f"{base}{suffix}") for suffix in SUFFIXES]
    with atomic_file(written[0]) as tmp:
        comparison_table.csv_frame(long).to_csv(tmp, index=False)
    atomic_write_text(written[1], comparison_table.markdown(long, args.split))
    atomic_write_text(written[2], comparison_table.html(long, args.split))
    if args.tuning is not None:
        table = tuning.tuning_table(scores.sources)
        tuned = [Path(f"{stem(args.tuning)}{suffix}") for suffix in SUFFIXES]
        with atomic_file(tuned[0]) as tmp:
            table.to_csv(tmp, index=False)
        atomic_write_text(tuned[1], tuning.markdown(table))
        atomic_write_text(tuned[2], tuning.html(table))
        written += tuned
    print(f"compared {len(args.runs)} folders -> {', '.join(map(str, written))}")
    return 0
