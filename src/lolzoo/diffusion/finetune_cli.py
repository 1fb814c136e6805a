"""`lolzoo finetune-diffusion --job JSON --base DIR --data DIR --out DIR`: a shard of DreamBooth LoRAs.

The job is {"zoo": {...}, "recipes": [...]} (job.py); --data has one finetuning folder per
lora_id (`lolzoo finetune-data`). The shard trains in one process, one batched forward per
micro-step (finetune.py). --out is written atomically, only when the whole shard succeeded:

    <out>/<lora_id>/pytorch_lora_weights.safetensors   diffusers' format, alpha in its metadata
    <out>/<lora_id>/train.json    lora_id, recipe, device, images, losses (one per optimiser step),
                                  prior_preservation (null, or its settings and prior_losses: the
                                  unweighted class MSE per step; `losses` is then instance MSE +
                                  weight × class MSE), precision, skipped_steps (fp16: steps whose
                                  scaled gradient overflowed), seconds: its share of the shard's (training
                                  by its samples, loading and writing split evenly) and their total
    <out>/shard.json              the shard's seconds (import_and_load, training, writing, total;
                                  training_steps: the batched micro-steps alone, without the VAE
                                  encoding and set-up that `training` includes), loras, samples,
                                  samples_per_second (over `training`), micro_steps, device,
                                  precision, class_images (0 without prior preservation)

With the zoo's prior_preservation (job.py, finetune.py) the class images are generated once
for the shard, by the base pipeline, before training; `training` includes that, and `samples`
counts the class samples too (each micro-batch is then twice its batch size).

The zoo's precision (fp32, the default; fp16 or bf16: mixed precision, finetune.py) is read from
the job's zoo.precision.
"""

from __future__ import annotations

import time
from pathlib import Path

from lolzoo.errors import LolzooError

SHARD_FILE = "shard.json"
TRAIN_FILE = "train.json"


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"zoo": {...}, "recipes": [{...}, ...]} as JSON, or @FILE holding it')
    parser.add_argument("--base", required=True, type=Path, help="the SD-1.x pipeline folder to finetune")
    parser.add_argument("--data", required=True, type=Path,
                        help="a folder with one finetuning folder per lora_id (lolzoo finetune-data)")
    parser.add_argument("--out", required=True, type=Path, help="the shard folder to write (one folder per LoRA)")


def data_folders(data: Path, lora_ids: list[str]) -> list[Path]:
    """Each LoRA's finetuning folder, checked before any model loads."""
    from lolzoo.diffusion.images import image_files

    if not data.is_dir():
        raise LolzooError(f"--data {data}: no such folder")
    folders = [data / lora_id for lora_id in lora_ids]
    missing = [f.name for f in folders if not f.is_dir()]
    if missing:
        raise LolzooError(f"--data {data}: no finetuning folder for {len(missing)} of the shard's "
                          f"{len(folders)} LoRAs (e.g. {missing[0]})")
    for folder in folders:
        image_files(folder)
    return folders


def run(args) -> int:
    started = time.perf_counter()
    from dataclasses import asdict

    from lolzoo.diffusion.job import lora_ids, parse_job, precision, prior_preservation, training_settings

    job = parse_job(args.job)
    settings = training_settings(job)  # a bad job fails before torch and the models load
    prior = prior_preservation(job)
    mixed = precision(job)
    folders = data_folders(args.data, lora_ids(job))
    if not args.base.is_dir():
        raise LolzooError(f"--base {args.base}: no such folder")

    from dataclasses import replace

    from lolzoo.bases.identity import base_name
    from lolzoo.bases.loading import load_sd_pipeline
    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.lora_file import write_lora_folder
    from lolzoo.runtime import log_precision_note, pick_device, progress, quiet_library_progress
    from lolzoo.io import atomic_dir, atomic_write_json

    quiet_library_progress()
    pipeline = load_sd_pipeline(args.base)  # tiny or SD 1.x, by the folder's base.json
    resolution = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
    images = [load_images(folder, resolution) for folder in folders]
    device = pick_device()
    log_precision_note(device, mixed)
    loaded = time.perf_counter()
    micro_steps = max(s.max_train_steps * s.gradient_accumulation_steps for s in settings)
    with progress(micro_steps, f"finetune {len(settings)} LoRAs") as bar:
        shard = finetune_shard(pipeline, images, settings, device, progress=bar, prior=prior, precision=mixed)
    trained = time.perf_counter()
    samples = sum(r.samples for r in shard.results)
    declared = base_name(args.base)  # what each LoRA says it adapts (lolzoo predict checks it)
    with atomic_dir(args.out, overwrite=True) as staging:
        for setting, result in zip(settings, shard.results):
            write_lora_folder(replace(result.lora, base_model=declared), staging / setting.lora_id)
        finished = time.perf_counter()
        count = len(settings)
        for recipe, setting, result, image_set in zip(job["recipes"], settings, shard.results, images):
            share = {"import_and_load": (loaded - started) / count,
                     "training": (trained - loaded) * result.samples / samples,
                     "writing": (finished - trained) / count}
            atomic_write_json(staging / setting.lora_id / TRAIN_FILE, {
                "lora_id": setting.lora_id, "recipe": recipe, "device": str(device), "images": len(image_set),
                "losses": result.losses, "samples": result.samples, "precision": mixed,
                "skipped_steps": result.skipped_steps,
                "prior_preservation": None if prior is None else {
                    **asdict(prior), "active": prior.active, "prior_losses": result.prior_losses},
                "seconds": {**share, "total": sum(share.values())}})
        atomic_write_json(staging / SHARD_FILE, {
            "loras": count, "samples": samples, "device": str(device), "precision": mixed, "micro_steps": micro_steps,
            "samples_per_second": samples / max(trained - loaded, 1e-9),
            "class_images": 0 if shard.class_images is None else len(shard.class_images),
            "seconds": {"import_and_load": loaded - started, "training": trained - loaded,
                        "training_steps": sum(shard.seconds_per_micro_step),
                        "writing": finished - trained, "total": finished - started}})
    print(f"{count} LoRAs, {samples} samples in {micro_steps} batched micro-steps on {device} in {mixed} "
          f"({trained - loaded:.1f} s training, {time.perf_counter() - started:.1f} s total), wrote {args.out}")
    return 0
