"""`lolzoo gather-labels PATH... --out LABELS.csv`: per-LoRA label files into one CSV.

A PATH is a `<lora_id>.json` label file or a folder of them (a shard's labels), in order.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError
from lolzoo.io import atomic_write_text
from lolzoo.zoo.labels import gather_labels


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="<lora_id>.json label files, or folders of them")
    parser.add_argument("--out", required=True, type=Path, help="the CSV to write (lora_id + one column per label)")


def label_files(paths: list[Path]) -> list[Path]:
    """Files as given; a folder contributes its *.json files in name order (an empty one is an error)."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if not p.name.startswith("."))
            if not found:
                raise UserError(f"{path}: a label folder without any <lora_id>.json file")
            files += found
        else:
            files.append(path)
    return files


def run(args) -> int:
    table = gather_labels(label_files(args.paths))
    atomic_write_text(args.out, table.to_csv(index=False))
    print(f"gathered {len(table)} label files ({len(table.columns) - 1} labels) into {args.out}")
    return 0
