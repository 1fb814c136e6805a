"""`lolzoo plot-learning-curves DIR... [--reliability FILE...] --out FIGURE.png`: per task, each
model's cross-validated test score (R², or accuracy) at every training share of `lolzoo fit-cv`
folders, with the trivial baseline and the noise ceiling as lines (lolzoo.report.learning_curves).
Beside the figure, FIGURE.csv holds every point and interval drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="folders written by `lolzoo fit-cv` (plain `lolzoo fit` folders give one share only)")
    parser.add_argument("--reliability", nargs="*", default=[], type=Path, metavar="FILE",
                        help="reliability.json files of the zoos (the noise ceiling line); none: no ceiling")
    parser.add_argument("--out", required=True, type=Path, help="the figure to write (.png, .svg or .pdf)")
    parser.add_argument("--title", default="", help="figure title (default: the zoos plotted)")


def run(args) -> int:
    from lolzoo.io import atomic_file
    from lolzoo.report.ceilings import read_reliability
    from lolzoo.report.cv_scores import read_scores
    from lolzoo.report.figure_files import save_figure
    from lolzoo.report.learning_curves import curve_table, learning_curve_figure, note_figure, undefined_groups

    if args.out.suffix not in (".png", ".svg", ".pdf"):
        raise UserError(f"--out {args.out}: a .png, .svg or .pdf file")
    scores = read_scores(args.runs)
    table = curve_table(scores, read_reliability(args.reliability))
    undefined = undefined_groups(scores, table)
    for label in undefined:  # a tiny zoo's test folds can hold too few LoRAs for R²: say so, draw the rest
        print(f"warning: {label}: no model has a defined test score at any training share", file=sys.stderr)
    zoos = ", ".join(sorted({group.zoo for group in scores.table["group"]}))
    title = args.title or f"{zoos}: learning curves, test split"
    if len(undefined) < len(set(scores.table["group"])):
        figure = learning_curve_figure(table, title)
    else:
        figure = note_figure(title, undefined)
    save_figure(figure, args.out, dpi=120)
    csv_path = args.out.with_suffix(".csv")
    with atomic_file(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    print(f"{len(table)} points of {len(args.runs)} folders -> {args.out}, {csv_path}")
    return 0
