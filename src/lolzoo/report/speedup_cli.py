"""`lolzoo speedup DIR... --evaluation-benchmarks TSV... --out TABLE`: LoL time per LoRA against
the standard evaluation's, per model (TABLE.csv and TABLE.html). See lolzoo.report.speedup."""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR",
                        help="folders written by `lolzoo fit`, or by `lolzoo fit-cv` (each of its fold*/seed* fits)")
    parser.add_argument("--evaluation-benchmarks", nargs="+", required=True, type=Path, metavar="TSV",
                        help="benchmark files of the zoo's evaluate jobs (one per shard)")
    parser.add_argument("--out", required=True, type=Path, help="table path without suffix")


def run(args) -> int:
    from lolzoo.io import atomic_file, atomic_write_text
    from lolzoo.report.compare import expand
    from lolzoo.report.html_table import html_page
    from lolzoo.report.speedup import evaluation_seconds_per_lora, speedup_table

    table = speedup_table(expand(args.runs), evaluation_seconds_per_lora(args.evaluation_benchmarks))
    stem = args.out.with_suffix("") if args.out.suffix in (".csv", ".html") else args.out
    with atomic_file(Path(f"{stem}.csv")) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.assign(lol_s_per_lora=table["lol_s_per_lora"].map("{:.2e}".format),
                         evaluation_s_per_lora=table["evaluation_s_per_lora"].map("{:.3f}".format),
                         speedup=table["speedup"].map("{:,.0f}×".format))
    atomic_write_text(Path(f"{stem}.html"), html_page(
        shown, "Seconds per LoRA on this machine: LoL = the model's preprocessing and prediction over the "
               "whole zoo (median over its fits), evaluation = the evaluate jobs' wall time (start-up included)."))
    best = table.loc[table["speedup"].idxmax()]
    print(f"{best['name']}: {best['speedup']:,.0f}x faster than the standard evaluation -> {stem}.csv")
    return 0
