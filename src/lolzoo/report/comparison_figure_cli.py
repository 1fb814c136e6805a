"""`lolzoo plot-comparison DIR... --out FIGURE.png`: the comparison of `lolzoo fit` runs (or of
the fold*/seed* fits of `lolzoo fit-cv` folders) as bars, mean ± std over folds × seeds."""

from __future__ import annotations

from lolzoo.report.figure_files import add_runs_arguments


def add_arguments(parser) -> None:
    add_runs_arguments(parser)
    parser.add_argument("--title", default="", help="figure title (default: the zoos compared)")


def run(args) -> int:
    from lolzoo.report.compare import comparison, read_runs
    from lolzoo.report.comparison_figure import comparison_figure
    from lolzoo.report.figure_files import save_figure

    runs = read_runs(args.runs, args.split)
    long = comparison(runs)
    zoos = ", ".join(sorted({group.zoo for group in long["group"]}))
    figure = comparison_figure(long, args.title or f"{zoos}: {args.split} split, mean ± std over folds × seeds")
    save_figure(figure, args.out, dpi=120)
    print(f"plotted {len(runs)} runs of {len(args.runs)} folders -> {args.out}")
    return 0
