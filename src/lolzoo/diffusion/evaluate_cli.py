"""`lolzoo evaluate-diffusion --job JSON --base DIR --clip DIR --lora DIR --data DIR --out LABELS.json [--samples DIR]`.

Writes one LoRA's label file: {"clip_score": ..., **the data folder's LoRA-level labels},
a flat JSON object of scalars, atomically. --samples gets the prompts' images as one grid PNG
(grid.png) and prompts.json, in prompt order.
"""

from __future__ import annotations

import time
from pathlib import Path

from lolzoo.errors import LolzooError


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True, help='{"recipe": {...}, "zoo": {...}} as JSON')
    parser.add_argument("--base", required=True, type=Path, help="the SD-1.x pipeline folder the LoRA was trained on")
    parser.add_argument("--clip", required=True, type=Path, help="the CLIP model folder (tiny-clip)")
    parser.add_argument("--lora", required=True, type=Path, help="the LoRA folder (pytorch_lora_weights.safetensors)")
    parser.add_argument("--data", required=True, type=Path, help="the LoRA's finetuning folder (its labels)")
    parser.add_argument("--out", required=True, type=Path, help="the label JSON to write")
    parser.add_argument("--samples", type=Path, help="a folder for the sample grid (grid.png) and prompts.json")


def run(args) -> int:
    started = time.perf_counter()
    from lolzoo.diffusion.job import evaluation_settings, parse_job

    settings = evaluation_settings(parse_job(args.job))

    from lolzoo.bases.tiny_clip import load_tiny_clip
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import clip_score, generate, image_grid, load_lora_into
    from lolzoo.diffusion.images import lora_labels
    from lolzoo.diffusion.runtime import pick_device, progress_enabled, quiet_library_progress
    from lolzoo.io import atomic_dir, atomic_file, atomic_write_json
    from lolzoo.lora import read_lora

    labels = lora_labels(args.data)  # a missing data folder fails before the models load
    if "clip_score" in labels:
        raise LolzooError(f"{args.data}: its labels already name a clip_score")
    for folder in (args.base, args.clip):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
    lora = read_lora(args.lora)
    quiet_library_progress()
    pipeline = load_tiny_sd(args.base).to(pick_device())
    clip = load_tiny_clip(args.clip)
    load_lora_into(pipeline, args.lora, lora)
    images = generate(pipeline, settings, show_progress=progress_enabled())
    score = clip_score(clip, images, settings.prompts)
    atomic_write_json(args.out, {"clip_score": score, **labels})
    if args.samples:
        with atomic_dir(args.samples, overwrite=True) as staging:
            image_grid(images).save(staging / "grid.png")
            atomic_write_json(staging / "prompts.json", list(settings.prompts))
    print(f"{args.lora}: CLIP score {score:.2f} over {len(settings.prompts)} prompts "
          f"({time.perf_counter() - started:.1f} s), wrote {args.out}")
    return 0
