"""`lolzoo plot-predictions DIR... --out FIGURE.png`: predicted vs true labels of the regression
tasks among `lolzoo fit` runs, one panel per task and model (lolzoo.report.prediction_figure)."""

from __future__ import annotations

from lolzoo.report.figure_files import add_runs_arguments


def add_arguments(parser) -> None:
    add_runs_arguments(parser)


def run(args) -> int:
    from lolzoo.report.figure_files import plot_runs_of_kind
    from lolzoo.report.prediction_figure import prediction_figure

    return plot_runs_of_kind(args, prediction_figure, "regression",
                             "none of the runs is a regression: there is nothing to plot against its truth")
