"""`lolzoo compare DIR... --out TABLE`: TABLE.csv, TABLE.md and TABLE.html from `lolzoo fit` output folders.

See lolzoo.report.compare for the table's shape and the trivial-baseline row.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.lol.split import SPLITS


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR", help="folders written by `lolzoo fit`")
    parser.add_argument("--out", required=True, type=Path,
                        help="table path without suffix: writes TABLE.csv, TABLE.md and TABLE.html")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split scored (default test)")


def run(args) -> int:
    from lolzoo.io import atomic_file, atomic_write_text
    from lolzoo.report.compare import comparison, html, markdown, read_run, wide_csv

    long = comparison([read_run(folder, args.split) for folder in args.runs])
    stem = args.out.with_suffix("") if args.out.suffix in (".csv", ".md", ".html") else args.out
    csv_path, md_path, html_path = Path(f"{stem}.csv"), Path(f"{stem}.md"), Path(f"{stem}.html")
    with atomic_file(csv_path) as tmp:
        wide_csv(long).to_csv(tmp, index=False)
    atomic_write_text(md_path, markdown(long, args.split))
    atomic_write_text(html_path, html(long, args.split))
    print(f"compared {len(args.runs)} runs -> {csv_path}, {md_path}, {html_path}")
    return 0
