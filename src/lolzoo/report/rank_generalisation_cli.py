"""`lolzoo rank-generalisation DIR... --zoo ZOO.parquet --out TABLE`: the fits' test score per
LoRA rank (TABLE.csv, TABLE.html, TABLE.png); see lolzoo.report.rank_generalisation."""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="folders written by `lolzoo fit`, or by `lolzoo fit-cv` (each of its fold*/seed* fits)")
    parser.add_argument("--zoo", required=True, type=Path, help="the packed zoo they were fitted on (its ranks)")
    parser.add_argument("--out", required=True, type=Path, help="path without suffix: TABLE.csv, .html, .png")


def run(args) -> int:
    from lolzoo.io import atomic_file, atomic_write_text
    from lolzoo.report.compare import read_runs
    from lolzoo.report.figure_files import save_figure
    from lolzoo.report.html_table import html_page
    from lolzoo.report.rank_generalisation import lora_ranks, rank_figure, rank_table

    runs = read_runs(args.runs)
    table = rank_table(runs, lora_ranks(args.zoo))
    stem = args.out.with_suffix("") if args.out.suffix in (".csv", ".html", ".png") else args.out
    with atomic_file(Path(f"{stem}.csv")) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.assign(score=[f"{m:.3f} ± {s:.3f}" for m, s in zip(table["mean"], table["std"])])
    atomic_write_text(Path(f"{stem}.html"), html_page(
        shown[["task", "targets", "name", "rank", "trained_on", "metric", "score", "seeds", "loras"]],
        "Test score per LoRA rank, mean ± std over runs (folds × seeds; the seeds column counts them); "
        "trained_on: the ranks the model was trained on."))
    zoo = runs[0].group.zoo
    figure = rank_figure(table, f"{zoo}: rank generalisation, test split")
    save_figure(figure, Path(f"{stem}.png"))
    print(f"{len(table)} (task, model, rank) scores -> {stem}.csv, .html, .png")
    return 0
