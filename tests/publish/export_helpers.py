"""Small zoos with provenance for the export tests, and `datasets` offline in a temporary cache."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from lolzoo.lora.testing import random_lora, with_magnitudes
from lolzoo.zoo.pack import pack_zoo

# `datasets` reads these when imported: never reach the hub from a test
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHAPES = {("unet", "down.0.attn.to_q"): (6, 5), ("unet", "down.0.attn.to_v"): (6, 9), ("unet", "mid.attn.to_q"): (4, 4)}
BASE_SHA = "ab" * 32
COUNT = 40

PROVENANCE = {
    "lolzoo_version": "0.1.0",
    "world": "default",
    "config_sha256": "cd" * 32,
    "zoo_config": {
        "world": "default", "seed": 0,
        "zoos": {"faces_zoo": {"type": "dreambooth-subject", "base": "sd", "clip": "clip", "data": "faces",
                               "count": COUNT, "lora": {"rank": 4, "alpha": 8, "target_modules": ["to_q", "to_v"]},
                               "evaluation": {"prompts": ["a photo of a person", "a photo of the digit three"],
                                              "seed": 42, "steps": 5, "sampler": "dpm-solver",
                                              "images_per_prompt": 4},
                               "hparams": {"learning_rate": {"choice": [1.0e-4, 1.0e-3]}}}},
        "bases": {"sd": {"kind": "tiny-sd", "seed": 0}, "clip": {"kind": "tiny-clip", "seed": 0}},
        "data": {"faces": {"kind": "procedural-faces", "identities": 100}},
    },
    "base": {"name": "lolzoo/tiny-sd-sd", "kind": "tiny-sd", "sha256": BASE_SHA, "weight_files": 3,
             "weight_bytes": 1000},
}


def ids(count: int = COUNT) -> list[str]:
    return [f"faces_zoo-{i:05d}" for i in range(count)]


def write_zoo(path: Path, kind: str = "plain", count: int = COUNT, provenance: dict | None = PROVENANCE,
              **pack_options) -> Path:
    """kind: plain (rank 4, alpha 8), mixed (ranks per LoRA and module, some alphas null) or dora."""
    entries = []
    for i, lora_id in enumerate(ids(count)):
        if kind == "mixed":
            rank = {name: 1 + (i + k) % 4 for k, name in enumerate(SHAPES)}
            alpha = None if i % 3 == 0 else float(2 + i % 5)
        else:
            rank, alpha = 4, 8.0
        lora = random_lora(SHAPES, rank=rank, seed=i, alpha=alpha, base_model="lolzoo/tiny-sd-sd")
        entries.append((lora_id, with_magnitudes(lora, seed=i) if kind == "dora" else lora))
    names = ids(count)
    recipes = pd.DataFrame({"lora_id": names, "index": range(count), "seed": [1000 + i for i in range(count)],
                            "learning_rate": [1e-4 if i % 2 else 1e-3 for i in range(count)],
                            "instance_prompt": [f"p{i % 3}" for i in range(count)]})
    labels = pd.DataFrame({"lora_id": names, "Male": [i % 2 for i in range(count)],
                           "clip_score": [20.0 + i / 7 for i in range(count)],
                           "dataset_size": [21] * count})
    pack_zoo(entries, labels, path, "faces_zoo", None, recipes=recipes, provenance=provenance, **pack_options)
    return path


def card_decoder(folder: Path):
    """`decode` from the first python block of the card's Loading section, run in a namespace of its own
    with no lolzoo import: what a reader copying it from the card gets."""
    card = (folder / "README.md").read_text(encoding="utf-8")
    loading = card.split("\n## Loading", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", loading, re.DOTALL).group(1)
    assert "lolzoo" not in "\n".join(line.split("#")[0] for line in code.splitlines())
    namespace: dict = {}
    exec(compile(code, "README.md (decoder)", "exec"), namespace)
    return namespace["decode"]


def load_hf(*args, cache: Path, **kwargs):
    import datasets

    return datasets.load_dataset(*args, cache_dir=str(cache), **kwargs)
