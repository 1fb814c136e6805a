"""`lolzoo plot-labels DIR... --out FIGURE.png`: accuracy per label of the multilabel tasks among
`lolzoo fit` runs, a bar per model beside the training-majority baseline (lolzoo.report.label_figure)."""

from __future__ import annotations

from lolzoo.report.figure_files import add_runs_arguments


def add_arguments(parser) -> None:
    add_runs_arguments(parser)


def run(args) -> int:
    from lolzoo.report.figure_files import plot_runs_of_kind
    from lolzoo.report.label_figure import label_figure

    return plot_runs_of_kind(args, label_figure, "multilabel",
                             "none of the runs is a multilabel task: there are no per-label accuracies to plot")
