"""What the figure verbs share: their run-folder arguments, and writing a figure atomically in
the format its file name asks for (.png, .svg, .pdf)."""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError
from lolzoo.lol.split import SPLITS


RUNS_HELP = "folders written by `lolzoo fit`, or by `lolzoo fit-cv` (each of its fold*/seed* fits)"


def add_runs_arguments(parser) -> None:
    """`DIR...` (lolzoo fit or fit-cv folders), `--out FIGURE`, `--split`."""
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR", help=RUNS_HELP)
    parser.add_argument("--out", required=True, type=Path, help="the figure to write (.png, .svg or .pdf)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split scored (default test)")


def save_figure(figure, path: Path, dpi: int = 110) -> None:
    from lolzoo.io import atomic_file

    with atomic_file(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")


def plot_runs_of_kind(args, make_figure, kind: str, nothing_to_plot: str) -> int:
    """A verb drawing the runs of one task kind among `args.runs`: `make_figure(runs, split)`
    returns None when none of them is of that kind, which is a one-line error."""
    from lolzoo.report.compare import read_runs

    figure = make_figure(read_runs(args.runs, args.split), args.split)
    if figure is None:
        raise UserError(nothing_to_plot)
    save_figure(figure, args.out)
    print(f"plotted the {kind} runs among {len(args.runs)} -> {args.out}")
    return 0
