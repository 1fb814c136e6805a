"""`lolzoo transfer DIR... --zoo ZOO.parquet... --out TABLE`: fitted models scored on the LoRAs of
sibling zoos (another base of the same architecture) beside their in-base test scores:
TABLE.csv, TABLE.md and TABLE.html. See lolzoo.report.transfer."""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="folders written by `lolzoo fit`, or by `lolzoo fit-cv` (each of its fold*/seed* fits)")
    parser.add_argument("--zoo", dest="zoos", nargs="+", required=True, type=Path, metavar="ZOO",
                        help="packed sibling zoos (.parquet) to test every fit on")
    parser.add_argument("--out", required=True, type=Path, help="table path without suffix: TABLE.csv, .md, .html")


def run(args) -> int:
    from lolzoo.io import atomic_file, atomic_write_text
    from lolzoo.report.compare import comparison, html, markdown, read_runs, wide_csv
    from lolzoo.report.transfer import PREFACE, transferred_run
    from lolzoo.zoo.load import load_zoo

    runs = read_runs(args.runs)
    transferred = []
    for path in args.zoos:
        zoo = load_zoo(path)  # once per sibling: every fit reads the same LoRAs
        transferred += [transferred_run(run, zoo) for run in runs]
    long = comparison(runs + transferred)
    stem = args.out.with_suffix("") if args.out.suffix in (".csv", ".md", ".html") else args.out
    with atomic_file(Path(f"{stem}.csv")) as tmp:
        wide_csv(long).to_csv(tmp, index=False)
    atomic_write_text(Path(f"{stem}.md"), markdown(long, "test", preface=PREFACE))
    atomic_write_text(Path(f"{stem}.html"), html(long, "test", preface=PREFACE))
    print(f"{len(runs)} fits tested on {len(args.zoos)} sibling zoo(s) -> {stem}.csv, .md, .html")
    return 0
