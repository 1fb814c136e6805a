"""Untrained tiny bases and one finetuning data folder, built once per test session in a tmp dir.

The tests never depend on training quality: only on shapes, determinism and the label contract.
"""

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DIFFUSERS_VERBOSITY"] = "error"

FACES = {"kind": "procedural-faces", "identities": 20, "images_per_identity": 6, "resolution": 32}
EVALUATION = {"prompts": ["a photo of a person", "a photo of the digit three"], "steps": 2, "seed": 42,
              "guidance_scale": 7.5}


def diffusion_job(**recipe) -> dict:
    return {"recipe": {"zoo": "celeba", "lora_id": "celeba-00003", "index": 3, "seed": 5, "rank": 4,
                       "lora_alpha": 27, "learning_rate": 1e-3, "max_train_steps": 2, "instance_prompt": "person",
                       "subject": 3, "images": 6, **recipe},
            "zoo": {"type": "dreambooth-subject", "images_per_lora": 6,
                    "lora": {"rank": 4, "alpha": 27, "target_modules": ["to_q", "to_v"]},
                    "evaluation": EVALUATION}}


@pytest.fixture(scope="session")
def bases(tmp_path_factory):
    """(tiny-sd folder, tiny-clip folder), untrained."""
    from lolzoo.bases.tiny_clip import build_tiny_clip, save_tiny_clip
    from lolzoo.bases.tiny_sd import build_tiny_sd, save_tiny_sd

    root = tmp_path_factory.mktemp("bases")
    save_tiny_sd(build_tiny_sd(seed=0), root / "sd")
    save_tiny_clip(build_tiny_clip(seed=0), root / "clip")
    return root / "sd", root / "clip"


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    from lolzoo.data.prepare import finetune_data, write_finetune_data

    folder = tmp_path_factory.mktemp("data") / "celeba-00003"
    job = diffusion_job()
    write_finetune_data(finetune_data({**job, "data": FACES}), folder)
    return folder


def as_arg(job: dict) -> str:
    return json.dumps(job)
