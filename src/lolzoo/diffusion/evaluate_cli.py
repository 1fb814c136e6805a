"""`lolzoo evaluate-diffusion --job JSON [--base DIR --clip DIR] --loras DIR --data DIR --out DIR
[--samples DIR] [--samples-for N] [--seed N]`: label files for a shard of diffusion LoRAs.

--loras is a `lolzoo finetune-diffusion` --out folder (<lora_id>/pytorch_lora_weights.safetensors),
--data has one finetuning folder per lora_id (its LoRA-level labels). All LoRAs of the job are
sampled together in large batches (evaluate.py). --out is written atomically, only when the whole
shard succeeded, with one flat JSON object of scalars per LoRA:

    <out>/<lora_id>.json      {"clip_score": ..., **the data folder's LoRA-level labels}

--samples gets, for the first N LoRAs of the shard (--samples-for, default 4), each LoRA's
first image of every prompt as one grid PNG in prompt order, <samples>/<lora_id>.png, and prompts.json.

A job whose zoo has no `evaluation` labels its LoRAs by their finetuning data alone: no model
is loaded, nothing is sampled, --base and --clip are not needed (label files without clip_score).

--seed replaces the job's evaluation seed (zoo.evaluation.seed): the same LoRAs, prompts and
settings under other sampling noise, as the reliability re-measurement evaluates a sample.

The job's zoo.precision (absent: fp32) is also the sampling precision: in fp16 or bf16 the
pipeline is cast to that dtype, as images are usually generated on a GPU (the LoRA factors stay
float32 and are applied in the pipeline's dtype); the CLIP model scores in float32, on the GPU
when there is one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from lolzoo.errors import LolzooError

SAMPLES_FOR = 4


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"zoo": {...}, "recipes": [{...}, ...]} as JSON, or @FILE holding it')
    parser.add_argument("--base", type=Path,
                        help="the SD-1.x pipeline folder the LoRAs were trained on (needed with an evaluation)")
    parser.add_argument("--clip", type=Path, help="the CLIP model folder (needed with an evaluation)")
    parser.add_argument("--loras", required=True, type=Path,
                        help="the shard's LoRAs: a finetune-diffusion --out folder, one folder per lora_id")
    parser.add_argument("--data", required=True, type=Path,
                        help="a folder with one finetuning folder per lora_id (their labels)")
    parser.add_argument("--out", required=True, type=Path, help="the folder of label files to write (<lora_id>.json)")
    parser.add_argument("--samples", type=Path, help="a folder for sample grids (<lora_id>.png) and prompts.json")
    parser.add_argument("--samples-for", type=int, default=SAMPLES_FOR, metavar="N",
                        help=f"grids for the first N LoRAs of the shard (default {SAMPLES_FOR})")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="evaluate under this seed instead of the job's zoo.evaluation.seed (a re-measurement)")


def run(args) -> int:
    started = time.perf_counter()
    from lolzoo.diffusion.job import evaluation_settings, lora_ids, parse_job, precision

    job = parse_job(args.job)
    if "evaluation" not in job["zoo"]:
        return _label_by_data(job, args, started)
    settings = evaluation_settings(job)
    mixed = precision(job)
    if args.base is None or args.clip is None:
        raise LolzooError("--base and --clip are needed: the job's zoo has an evaluation to sample and score")
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    names = lora_ids(job)
    if args.samples_for < 0:
        raise LolzooError(f"--samples-for {args.samples_for}: must be at least 0")

    from lolzoo.lora import read_lora

    labels = finetune_labels(args, names)  # a missing data folder or LoRA fails before the models load
    loras = [read_lora(args.loras / name) for name in names]
    for folder in (args.base, args.clip):
        if not folder.is_dir():
            raise LolzooError(f"{folder}: no such folder")

    from lolzoo.bases.loading import load_clip_scorer, load_sd_pipeline
    from lolzoo.diffusion.evaluate import clip_scores, generate, image_grid, load_shard, place_pipeline, use_sampler
    from lolzoo.runtime import log_precision_note, pick_device, progress_enabled, quiet_library_progress
    from lolzoo.io import atomic_dir, atomic_write_json

    quiet_library_progress()
    device = pick_device()
    log_precision_note(device, mixed)
    pipeline = place_pipeline(load_sd_pipeline(args.base), device, mixed)  # tiny or SD 1.x, by its base.json
    clip = load_clip_scorer(args.clip)  # tiny CLIP (on the CPU) or open_clip ViT-B-16 (on the device)
    if hasattr(clip, "to"):
        clip = clip.to(device)
    use_sampler(pipeline, settings.sampler)
    shard = load_shard(pipeline, loras, names)
    images = generate(pipeline, shard, settings, show_progress=progress_enabled())
    scores = clip_scores(clip, images, settings.prompts)
    with atomic_dir(args.out, overwrite=True) as staging:
        for name, score, data_labels in zip(names, scores, labels):
            atomic_write_json(staging / f"{name}.json", {"clip_score": score, **data_labels})
    if args.samples and args.samples_for:
        with atomic_dir(args.samples, overwrite=True) as staging:
            for name, lora_images in list(zip(names, images))[:args.samples_for]:
                image_grid(lora_images[:len(settings.prompts)]).save(staging / f"{name}.png")
            atomic_write_json(staging / "prompts.json", list(settings.prompts))
    print(f"{len(names)} LoRAs: CLIP score {min(scores):.2f} to {max(scores):.2f} over {len(settings.prompts)} "
          f"prompts × {settings.images_per_prompt} image(s) on {device} in {mixed} "
          f"({time.perf_counter() - started:.1f} s), wrote {args.out}")
    return 0


def finetune_labels(args, names: list[str]) -> list[dict]:
    """Each LoRA's finetuning-data labels; every LoRA's data and LoRA folder must exist."""
    from lolzoo.diffusion.images import lora_labels

    labels = []
    for name in names:
        if not (args.data / name).is_dir():
            raise LolzooError(f"--data {args.data}: no finetuning folder for {name}")
        labels.append(lora_labels(args.data / name))
        if "clip_score" in labels[-1]:
            raise LolzooError(f"{args.data / name}: its labels already name a clip_score")
    for name in names:
        if not (args.loras / name).is_dir():
            raise LolzooError(f"--loras {args.loras}: no LoRA folder for {name}")
    return labels


def _label_by_data(job: dict, args, started: float) -> int:
    """A zoo without evaluation: the label files are the data's labels."""
    from lolzoo.diffusion.job import lora_ids
    from lolzoo.io import atomic_dir, atomic_write_json

    if args.seed is not None or args.samples:
        raise LolzooError("--seed and --samples need an evaluation; the job's zoo has none (labels by data only)")
    names = lora_ids(job)
    labels = finetune_labels(args, names)
    with atomic_dir(args.out, overwrite=True) as staging:
        for name, row in zip(names, labels):
            atomic_write_json(staging / f"{name}.json", row)
    print(f"{len(names)} LoRAs labelled by their finetuning data (the zoo has no evaluation) "
          f"({time.perf_counter() - started:.1f} s), wrote {args.out}")
    return 0
