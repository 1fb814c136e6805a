"""`lolzoo import-zoo DIR --out ZOO.parquet [--overwrite]`: an exported zoo folder back into a zoo file.

The folder is checked against its card first (export_check.py); see zoo_import.py for what the zoo
file keeps.
"""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("folder", type=Path, help="a folder written by `lolzoo export`")
    parser.add_argument("--out", required=True, type=Path, help="the zoo file to write (.parquet)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def run(args) -> int:
    from lolzoo.publish.zoo_import import import_export

    summary = import_export(args.folder, args.out, overwrite=args.overwrite)
    print(f"imported {summary.num_loras} LoRAs of zoo {summary.info.zoo} from {args.folder} into {summary.path}")
    return 0
