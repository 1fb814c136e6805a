"""`lolzoo finetune-data --job JSON --out DIR`: a shard of LoRAs' finetuning images and labels.

The job JSON is {"recipes": [{...}, ...], "zoo": {...}, "data": {...}} (see lolzoo.data.prepare);
DIR receives one folder per LoRA, `<lora_id>/` with 000.png, 001.png, ... and metadata.json,
all written at once (a failed job leaves no partial shard).
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True, help='{"recipes": [{...}, ...], "zoo": {...}, "data": {...}} as JSON')
    parser.add_argument("--out", required=True, type=Path, help="the folder of per-LoRA folders to write")


def shard_jobs(job_text: str) -> dict[str, dict]:
    """lora_id -> the one-LoRA job {"recipe", "zoo", "data"} that lolzoo.data.prepare builds from."""
    try:
        job = json.loads(job_text)
    except json.JSONDecodeError as err:
        raise UserError(f"--job is not JSON: {err}") from None
    if not isinstance(job, dict) or not isinstance(job.get("recipes"), list) or not job["recipes"]:
        raise UserError("--job must be a JSON object with a non-empty recipes list, zoo and data")
    jobs = {}
    for recipe in job["recipes"]:
        lora_id = recipe.get("lora_id") if isinstance(recipe, dict) else None
        if not isinstance(lora_id, str) or not lora_id or "/" in lora_id or lora_id.startswith("."):
            raise UserError(f"--job has a recipe without a usable lora_id: {recipe!r:.200}")
        if lora_id in jobs:
            raise UserError(f"--job lists {lora_id} twice")
        jobs[lora_id] = {"recipe": recipe, "zoo": job.get("zoo"), "data": job.get("data")}
    return jobs


def run(args) -> int:
    from lolzoo.data.prepare import finetune_data, write_finetune_data
    from lolzoo.io import atomic_dir

    jobs = shard_jobs(args.job)
    built = {lora_id: finetune_data(job) for lora_id, job in jobs.items()}  # every error before any write
    with atomic_dir(args.out, overwrite=True) as staging:
        for lora_id, data in built.items():
            write_finetune_data(data, staging / lora_id)
    print(f"wrote the finetuning data of {len(built)} LoRAs to {args.out}")
    return 0
