"""Untrained tiny bases and a shard's finetuning data folders, built once per test session in a tmp dir.

The tests never depend on training quality: only on shapes, determinism, the equality of a
LoRA trained or evaluated in a shard with the same LoRA alone, and the label contract.
"""

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DIFFUSERS_VERBOSITY"] = "error"

FACES = {"kind": "procedural-faces", "identities": 20, "images_per_identity": 6, "resolution": 32}
# the untrained tiny CLIP scores "a photo of a person" below 0 (clamped to 0) on every LoRA's samples, which
# would make equal CLIP scores prove nothing; this first prompt scores about 10 (tests/diffusion/test_evaluate.py)
EVALUATION = {"prompts": ["a photo of a smiling young woman", "a photo of the digit three"], "steps": 2, "seed": 42,
              "guidance_scale": 7.5}
ZOO = {"type": "dreambooth-subject", "images_per_lora": 6,
       "lora": {"rank": 4, "alpha": 27, "target_modules": ["to_q", "to_v"]}, "evaluation": EVALUATION}
SUBJECTS = {"celeba-00003": 3, "celeba-00004": 4, "celeba-00005": 5}  # lora_id -> subject of its data folder


def recipe(lora_id="celeba-00003", **values) -> dict:
    index = int(lora_id.rsplit("-", 1)[1])
    return {"zoo": "celeba", "lora_id": lora_id, "index": index, "seed": 5 + index, "rank": 4, "lora_alpha": 27,
            "learning_rate": 1e-3, "max_train_steps": 2, "instance_prompt": "person",
            "subject": SUBJECTS.get(lora_id, 3), "images": 6, **values}


def shard_job(*recipes) -> dict:
    return {"zoo": ZOO, "recipes": list(recipes) or [recipe()]}


@pytest.fixture(scope="session")
def bases(tmp_path_factory):
    """(tiny-sd folder, tiny-clip folder), untrained, as `lolzoo build-base` writes them."""
    from lolzoo.cli import main

    root = tmp_path_factory.mktemp("bases")
    for name, kind in (("sd", "tiny-sd"), ("clip", "tiny-clip")):
        assert main(["build-base", "--kind", kind, "--seed", "0", "--out", str(root / name)]) == 0
    return root / "sd", root / "clip"


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """A --data folder: one finetuning folder per lora_id of SUBJECTS."""
    from lolzoo.data.prepare import finetune_data, write_finetune_data

    root = tmp_path_factory.mktemp("data")
    for lora_id in SUBJECTS:
        write_finetune_data(finetune_data({"recipe": recipe(lora_id), "zoo": ZOO, "data": FACES}), root / lora_id)
    return root


def as_arg(job: dict) -> str:
    return json.dumps(job)
