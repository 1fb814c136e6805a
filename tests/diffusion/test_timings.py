"""Measured costs of one diffusion job on this machine (printed; run with -s to see them).

Nothing here asserts a speed: the numbers feed the sizing of the zoos (issue 4, section 5).
"""

import statistics
import subprocess
import sys
import time

import torch

from .conftest import EVALUATION, diffusion_job

IMPORTS = ("import lolzoo.diffusion.finetune, lolzoo.diffusion.evaluate, lolzoo.bases.tiny_sd, "
           "lolzoo.bases.tiny_clip, diffusers, peft, transformers, open_clip")


def median_step_seconds(bases, data, batch_size: int, steps: int = 4) -> float:
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.finetune import finetune
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.job import training_settings

    settings = training_settings(diffusion_job(train_batch_size=batch_size, max_train_steps=steps))
    result = finetune(load_tiny_sd(bases[0]), load_images(data, 32), settings, torch.device("cpu"))
    return statistics.median(result.seconds_per_step[1:])  # the first step pays one-off kernel set-up


def test_print_job_costs(bases, data, tmp_path):
    from lolzoo.bases.tiny_clip import load_tiny_clip
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import clip_score, generate
    from lolzoo.diffusion.job import evaluation_settings

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pipeline, clip = load_tiny_sd(bases[0]), load_tiny_clip(bases[1])
    load_seconds = time.perf_counter() - started

    batch_1, batch_4 = median_step_seconds(bases, data, 1), median_step_seconds(bases, data, 4)
    prompts = EVALUATION["prompts"] * 2
    settings = evaluation_settings({**diffusion_job(), "zoo": {"type": "dreambooth-subject",
                                                               "evaluation": {**EVALUATION, "prompts": prompts,
                                                                              "steps": 20}}})
    started = time.perf_counter()
    score = clip_score(clip, generate(pipeline, settings), settings.prompts)
    evaluation_seconds = time.perf_counter() - started

    print(f"\ntorch threads {torch.get_num_threads()}:"
          f"\n  training step, batch 1: {batch_1 * 1000:.0f} ms ({batch_1 * 1000:.0f} ms/sample)"
          f"\n  training step, batch 4: {batch_4 * 1000:.0f} ms ({batch_4 * 250:.0f} ms/sample)"
          f"\n  evaluation, 4 prompts x 20 steps (CFG): {evaluation_seconds:.2f} s (CLIP score {score:.1f})"
          f"\n  per job: imports {import_seconds:.2f} s (fresh interpreter), loading base + CLIP {load_seconds:.2f} s")
    assert batch_1 > 0 and batch_4 > 0 and evaluation_seconds > 0
