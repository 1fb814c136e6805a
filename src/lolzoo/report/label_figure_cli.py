"""`lolzoo plot-labels DIR... --out FIGURE.png`: accuracy per label of the multilabel tasks among
`lolzoo fit` runs, a bar per model beside the training-majority baseline (lolzoo.report.label_figure)."""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError
from lolzoo.lol.split import SPLITS


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR", help="folders written by `lolzoo fit`")
    parser.add_argument("--out", required=True, type=Path, help="the figure to write (.png, .svg or .pdf)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split scored (default test)")


def run(args) -> int:
    from lolzoo.io import atomic_file
    from lolzoo.lol.compare import read_run
    from lolzoo.report.label_figure import label_figure

    figure = label_figure([read_run(folder, args.split) for folder in args.runs], args.split)
    if figure is None:
        raise UserError("none of the runs is a multilabel task: there are no per-label accuracies to plot")
    with atomic_file(args.out) as tmp:
        figure.savefig(tmp, dpi=110, format=args.out.suffix.lstrip(".") or "png")
    print(f"plotted the multilabel runs among {len(args.runs)} -> {args.out}")
    return 0
