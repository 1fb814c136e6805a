"""`lolzoo plot-comparison DIR... --out FIGURE.png`: the comparison of `lolzoo fit` runs as bars."""

from __future__ import annotations

from lolzoo.report.figure_files import add_runs_arguments


def add_arguments(parser) -> None:
    add_runs_arguments(parser)
    parser.add_argument("--title", default="", help="figure title (default: the zoos compared)")


def run(args) -> int:
    from lolzoo.report.compare import comparison, read_run
    from lolzoo.report.comparison_figure import comparison_figure
    from lolzoo.report.figure_files import save_figure

    long = comparison([read_run(folder, args.split) for folder in args.runs])
    zoos = ", ".join(sorted({group.zoo for group in long["group"]}))
    figure = comparison_figure(long, args.title or f"{zoos}: {args.split} split, mean ± std over seeds")
    save_figure(figure, args.out, dpi=120)
    print(f"plotted {len(args.runs)} runs -> {args.out}")
    return 0
