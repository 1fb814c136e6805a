"""`lolzoo results-doc DIR... --world NAME --command CMD --zoo ZOO=FOLDER... --out results.md`: the
results document (lolzoo.report.results_doc): where it came from, the paper's claims decided from
our intervals (lolzoo.report.claims), and per zoo the tables its report folder holds.

DIR: the `lolzoo fit-cv` folders the zoos' comparisons read (the claims' paired differences are
recomputed from them). FOLDER: a zoo's report folder, results/report/<zoo>.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="*", type=Path, metavar="DIR",
                        help="the `lolzoo fit-cv` folders the comparisons read (every model's and the reference's)")
    parser.add_argument("--world", required=True, help="the config's world name (config key `world`)")
    parser.add_argument("--command", default="snakemake --cores all",
                        help="the command that ran the workflow, as the document quotes it")
    parser.add_argument("--zoo", dest="zoos", nargs="+", required=True, metavar="ZOO=FOLDER",
                        help="a zoo with LoL tasks and its report folder (results/report/<zoo>)")
    parser.add_argument("--out", required=True, type=Path, help="the Markdown file to write")


def zoo_folders(entries: list[str]) -> dict[str, Path]:
    folders = {}
    for entry in entries:
        zoo, sep, folder = entry.partition("=")
        if not sep or not zoo or not folder:
            raise UserError(f"--zoo {entry!r}: ZOO=FOLDER, e.g. celeba=results/report/celeba")
        if zoo in folders:
            raise UserError(f"--zoo {zoo} is given twice")
        if not Path(folder).is_dir():
            raise UserError(f"--zoo {entry}: {folder} is not a folder")
        folders[zoo] = Path(folder)
    return folders


def run(args) -> int:
    from lolzoo.io import atomic_write_text
    from lolzoo.report.claims import all_claims
    from lolzoo.report.cv_scores import Scores, read_scores
    from lolzoo.report.results_doc import document, read_tables

    zoos = zoo_folders(args.zoos)
    scores = read_scores(args.runs) if args.runs else Scores(_empty_scores(), [])
    comparison, ranks, transfer = read_tables(zoos)
    verdicts = all_claims(scores, comparison, ranks, transfer)
    atomic_write_text(args.out, document(args.world, args.command, zoos, verdicts))
    counts = {}
    for verdict in verdicts:
        counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    print(f"{len(zoos)} zoo(s), {len(verdicts)} claim rows ({', '.join(f'{v}: {n}' for v, n in counts.items())}) "
          f"-> {args.out}")
    return 0


def _empty_scores():
    import pandas as pd

    from lolzoo.report.cv_scores import COLUMNS

    return pd.DataFrame(columns=list(COLUMNS))
