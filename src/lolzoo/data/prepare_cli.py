"""`lolzoo finetune-data --job JSON --out DIR`: one LoRA's finetuning images and labels.

The job JSON is {"recipe": {...}, "zoo": {...}, "data": {...}} (see lolzoo.data.prepare);
DIR receives 000.png, 001.png, ... and metadata.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True, help='{"recipe": {...}, "zoo": {...}, "data": {...}} as JSON')
    parser.add_argument("--out", required=True, type=Path, help="the folder of images and metadata.json to write")


def run(args) -> int:
    from lolzoo.data.prepare import finetune_data, write_finetune_data

    try:
        job = json.loads(args.job)
    except json.JSONDecodeError as err:
        raise UserError(f"--job is not JSON: {err}") from None
    if not isinstance(job, dict):
        raise UserError("--job must be a JSON object with recipe, zoo and data")
    write_finetune_data(finetune_data(job), args.out)
    return 0
