"""What one diffusion LoRA job costs on this machine: imports, loading, training steps, evaluation.

Builds untrained tiny bases and one LoRA's finetuning data in a temporary folder (costs do
not depend on training quality), then prints a table. The numbers size the default world's
zoos and show why jobs should train shards of LoRAs (issue 4, section 5).

    python benchmarks/diffusion_job_costs.py [--steps 4] [--prompts 4] [--denoising-steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

IMPORTS = ("import lolzoo.diffusion.finetune, lolzoo.diffusion.evaluate, lolzoo.bases.tiny_sd, "
           "lolzoo.bases.tiny_clip, diffusers, peft, transformers, open_clip")
FACES = {"kind": "procedural-faces", "identities": 20, "images_per_identity": 8, "resolution": 32}
PROMPTS = ["a photo of a person", "a photo of the digit three", "a photo of a smiling woman",
           "a photo of the digit seven"]


def job(batch_size: int, steps: int, prompts: list[str], denoising_steps: int) -> dict:
    return {"recipe": {"zoo": "celeba", "lora_id": "celeba-00003", "index": 3, "seed": 5, "rank": 4,
                       "lora_alpha": 27, "learning_rate": 1e-3, "max_train_steps": steps, "instance_prompt": "person",
                       "train_batch_size": batch_size, "subject": 3, "images": 8},
            "zoo": {"type": "dreambooth-subject", "lora": {"rank": 4, "alpha": 27, "target_modules": ["to_q", "to_v"]},
                    "evaluation": {"prompts": prompts, "steps": denoising_steps, "seed": 42, "guidance_scale": 7.5}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="training steps timed per batch size")
    parser.add_argument("--prompts", type=int, default=4, choices=range(1, len(PROMPTS) + 1))
    parser.add_argument("--denoising-steps", type=int, default=20)
    args = parser.parse_args()

    from lolzoo.bases.tiny_clip import build_tiny_clip, load_tiny_clip, save_tiny_clip
    from lolzoo.bases.tiny_sd import build_tiny_sd, load_tiny_sd, save_tiny_sd
    from lolzoo.data.prepare import finetune_data, write_finetune_data
    from lolzoo.diffusion.evaluate import clip_score, generate
    from lolzoo.diffusion.finetune import finetune
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.job import evaluation_settings, training_settings

    rows = []
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)
    rows.append(("imports, fresh interpreter", time.perf_counter() - started, "s"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        save_tiny_sd(build_tiny_sd(seed=0), root / "sd")
        save_tiny_clip(build_tiny_clip(seed=0), root / "clip")
        write_finetune_data(finetune_data({**job(1, 1, PROMPTS, 1), "data": FACES}), root / "data")
        started = time.perf_counter()
        pipeline, clip = load_tiny_sd(root / "sd"), load_tiny_clip(root / "clip")
        rows.append(("loading base + CLIP", time.perf_counter() - started, "s"))
        images = load_images(root / "data", 32)
        for batch in (1, 4, 8):
            settings = training_settings(job(batch, args.steps + 1, PROMPTS, 1))
            result = finetune(load_tiny_sd(root / "sd"), images, settings, torch.device("cpu"))
            step = statistics.median(result.seconds_per_step[1:])  # the first step pays one-off set-up
            rows.append((f"training step, batch {batch}", step * 1e3, f"ms ({step * 1e3 / batch:.0f} ms/sample)"))
        prompts = PROMPTS[:args.prompts]
        settings = evaluation_settings(job(1, 1, prompts, args.denoising_steps))
        started = time.perf_counter()
        clip_score(clip, generate(pipeline, settings), settings.prompts)
        rows.append((f"evaluation, {len(prompts)} prompts x {args.denoising_steps} steps (CFG)",
                     time.perf_counter() - started, "s"))
    print(f"torch threads: {torch.get_num_threads()}\n\n| what | time | unit |\n|---|---|---|")
    for what, value, unit in rows:
        print(f"| {what} | {value:.2f} | {unit} |")


if __name__ == "__main__":
    main()
