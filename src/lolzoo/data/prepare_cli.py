"""`lolzoo finetune-data --job JSON --out DIR`: a shard of LoRAs' finetuning images and labels.

The job is the workflow's shard job (lolzoo.recipes.job) with the zoo's data source:
{"recipes": [{...}, ...], "zoo": {...}, "data": {...}}, as JSON or `@FILE`; each recipe
becomes the one-LoRA job lolzoo.data.prepare builds from. DIR receives one folder per LoRA,
`<lora_id>/` with 000.png, 001.png, ... and metadata.json, all written at once (a failed job
leaves no partial shard).
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.config.kinds import DIFFUSION_TYPES
from lolzoo.recipes.job import parse_job


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"recipes": [{...}, ...], "zoo": {...}, "data": {...}} as JSON, or @FILE holding it')
    parser.add_argument("--out", required=True, type=Path, help="the folder of per-LoRA folders to write")


def shard_jobs(job_text: str) -> dict[str, dict]:
    """lora_id -> the one-LoRA job {"recipe", "zoo", "data"} that lolzoo.data.prepare builds from."""
    job = parse_job(job_text, DIFFUSION_TYPES, "finetune-data")
    return {recipe["lora_id"]: {"recipe": recipe, "zoo": job["zoo"], "data": job.get("data")}
            for recipe in job["recipes"]}


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
