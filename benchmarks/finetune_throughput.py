"""How many diffusion LoRAs an hour one `lolzoo finetune-diffusion` job trains, by shard size.

Builds an untrained tiny SD base and synthetic finetuning folders in a temporary folder, then
runs shards of 1, 8, 32 LoRAs (same recipe shape, own seeds) twice: in this process (imports
already paid, models still loaded per job) and as a subprocess of the real CLI (what a workflow
job costs). Prints one row per (mode, shard size): LoRAs per hour, seconds per LoRA, and the
share of the job's wall time spent outside the batched training steps (start-up, imports,
loading, VAE encoding, writing), and the samples per second of the training phase.

    python benchmarks/finetune_throughput.py [--sizes 1 8 32] [--steps 4] [--images 6] [--threads 1]
                                             [--modes in-process subprocess]

--threads sets OMP_NUM_THREADS and torch's threads (as the workflow's `threads:` does): on a
busy machine more threads than free cores make every step many times slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

ZOO = {"type": "dreambooth-subject", "lora": {"rank": 4, "alpha": 4, "target_modules": ["to_q", "to_k", "to_v", "to_out.0"]}}


def recipe(number: int, steps: int) -> dict:
    return {"lora_id": f"bench-{number:05d}", "seed": number, "learning_rate": 1e-4, "max_train_steps": steps,
            "instance_prompt": "a photo of sks person"}


def write_data(root: Path, count: int, images: int, resolution: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for number in range(count):
        folder = root / f"bench-{number:05d}"
        folder.mkdir(parents=True)
        rows = []
        for image in range(images):
            name = f"{image:03d}.png"
            Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8)).save(folder / name)
            rows.append({"file": name})
        (folder / "metadata.json").write_text(json.dumps({"images": rows, "labels": {"subject": number}}))


def run(mode: str, job: dict, base: Path, data: Path, out: Path) -> tuple[float, dict]:
    argv = ["finetune-diffusion", "--job", json.dumps(job), "--base", str(base), "--data", str(data), "--out", str(out)]
    started = time.perf_counter()
    if mode == "in-process":
        from lolzoo.cli import main

        if main(argv) != 0:
            raise SystemExit(f"{mode} run failed")
    else:
        subprocess.run([sys.executable, "-m", "lolzoo", *argv], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "shard.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32], help="shard sizes (LoRAs per job)")
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps per LoRA (batch 1)")
    parser.add_argument("--images", type=int, default=6, help="finetuning images per LoRA")
    parser.add_argument("--threads", type=int, default=1, help="torch / OpenMP threads per job")
    parser.add_argument("--modes", nargs="+", default=["in-process", "subprocess"],
                        choices=["in-process", "subprocess"])
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the subprocesses'
    import torch

    torch.set_num_threads(args.threads)  # this process's

    from lolzoo.bases.tiny_sd import TinySDConfig
    from lolzoo.cli import main as lolzoo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lolzoo(["build-base", "--kind", "tiny-sd", "--seed", "0", "--out", str(root / "sd")])  # with its base.json
        write_data(root / "data", max(args.sizes), args.images, TinySDConfig().image_size)
        warm = {"zoo": ZOO, "recipes": [recipe(0, 1)]}
        if "in-process" in args.modes:  # pay the imports once, as a long-lived process would
            run("in-process", warm, root / "sd", root / "data", root / "warm")
        rows = []
        for mode in args.modes:
            for size in args.sizes:
                job = {"zoo": ZOO, "recipes": [recipe(n, args.steps) for n in range(size)]}
                wall, shard = run(mode, job, root / "sd", root / "data", root / f"{mode}-{size}")
                training = shard["seconds"]["training_steps"]
                rows.append((mode, size, 3600 * size / wall, wall / size, 1 - training / wall,
                             shard["samples_per_second"]))
    print(f"tiny SD base, {args.steps} steps × batch 1 per LoRA, {args.images} images, "
          f"targets {ZOO['lora']['target_modules']}, rank 4, {args.threads} thread(s) per job on {os.cpu_count()} CPUs")
    print("| mode | LoRAs per shard | LoRAs per hour | seconds per LoRA | share outside training steps | samples/s in training |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, size, per_hour, per_lora, outside, samples in rows:
        print(f"| {mode} | {size} | {per_hour:,.0f} | {per_lora:.2f} | {outside:.0%} | {samples:.1f} |")


if __name__ == "__main__":
    main()
