"""`lolzoo finetune-diffusion --job JSON --base DIR --data DIR --out DIR [--log-json FILE]`: one DreamBooth LoRA.

DIR receives pytorch_lora_weights.safetensors (diffusers' format, alpha in its adapter
metadata), written atomically; --log-json gets the recipe, the per-step loss curve, seconds
and the device.
"""

from __future__ import annotations

import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True, help='{"recipe": {...}, "zoo": {...}} as JSON')
    parser.add_argument("--base", required=True, type=Path, help="the SD-1.x pipeline folder to finetune")
    parser.add_argument("--data", required=True, type=Path, help="the LoRA's finetuning images (lolzoo finetune-data)")
    parser.add_argument("--out", required=True, type=Path, help="the LoRA folder to write")
    parser.add_argument("--log-json", type=Path, help="where to write recipe, loss curve, seconds and device")


def run(args) -> int:
    started = time.perf_counter()
    from lolzoo.diffusion.job import parse_job, training_settings

    job = parse_job(args.job)
    settings = training_settings(job)  # a bad job fails before torch and the models load

    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.finetune import finetune
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.runtime import pick_device, progress, quiet_library_progress
    from lolzoo.io import atomic_write_json
    from lolzoo.diffusion.lora_file import write_lora_folder

    if not args.base.is_dir():
        raise FileNotFoundError(f"--base {args.base}: no such folder")
    quiet_library_progress()
    pipeline = load_tiny_sd(args.base)
    resolution = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
    images = load_images(args.data, resolution)
    device = pick_device()
    loaded = time.perf_counter()
    with progress(settings.max_train_steps, f"finetune {settings.lora_id}") as bar:
        result = finetune(pipeline, images, settings, device, progress=bar)
    trained = time.perf_counter()
    write_lora_folder(result.lora, args.out)
    finished = time.perf_counter()
    if args.log_json:
        atomic_write_json(args.log_json, {
            "lora_id": settings.lora_id, "recipe": job["recipe"], "device": str(device),
            "images": len(images), "losses": result.losses,
            "seconds": {"total": finished - started, "import_and_load": loaded - started,
                        "training": trained - loaded, "writing": finished - trained,
                        "per_step": result.seconds_per_step}})
    print(f"{settings.lora_id}: {settings.max_train_steps} steps on {device}, loss "
          f"{result.losses[0]:.4f} -> {result.losses[-1]:.4f}, wrote {args.out}")
    return 0
