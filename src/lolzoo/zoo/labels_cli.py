"""`lolzoo gather-labels FILE... --out LABELS.csv`: per-LoRA label files into one CSV."""

from __future__ import annotations

from pathlib import Path

from lolzoo.io import atomic_write_text
from lolzoo.zoo.labels import gather_labels


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="<lora_id>.json label files")
    parser.add_argument("--out", required=True, type=Path, help="the CSV to write (lora_id + one column per label)")


def run(args) -> int:
    table = gather_labels(args.files)
    atomic_write_text(args.out, table.to_csv(index=False))
    print(f"gathered {len(table)} label files ({len(table.columns) - 1} labels) into {args.out}")
    return 0
