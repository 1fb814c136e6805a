"""`lolzoo plot-comparison DIR... --out FIGURE.png`: the comparison of `lolzoo fit` runs as bars."""

from __future__ import annotations

from pathlib import Path

from lolzoo.lol.split import SPLITS


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR", help="folders written by `lolzoo fit`")
    parser.add_argument("--out", required=True, type=Path, help="the figure to write (.png, .svg or .pdf)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split scored (default test)")
    parser.add_argument("--title", default="", help="figure title (default: the zoos compared)")


def run(args) -> int:
    from lolzoo.io import atomic_file
    from lolzoo.lol.compare import comparison, read_run
    from lolzoo.report.comparison_figure import comparison_figure

    long = comparison([read_run(folder, args.split) for folder in args.runs])
    zoos = ", ".join(sorted({group.zoo for group in long["group"]}))
    figure = comparison_figure(long, args.title or f"{zoos}: {args.split} split, mean ± std over seeds")
    with atomic_file(args.out) as tmp:
        figure.savefig(tmp, dpi=120, format=args.out.suffix.lstrip(".") or "png")
    print(f"plotted {len(args.runs)} runs -> {args.out}")
    return 0
