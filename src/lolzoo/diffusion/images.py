"""A finetuning data folder (written by `lolzoo finetune-data`): its PNGs as tensors, its labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lolzoo.errors import LolzooError

METADATA_FILE = "metadata.json"


def read_metadata(folder: str | Path) -> dict:
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        raise LolzooError(f"{folder}: no {METADATA_FILE}; is this a `lolzoo finetune-data` folder?")
    return json.loads(path.read_text())


def image_files(folder: str | Path) -> list[Path]:
    """The images in metadata order (the file names it lists), else every PNG sorted."""
    folder = Path(folder)
    rows = read_metadata(folder).get("images") or []
    files = [folder / row["file"] for row in rows if "file" in row] or sorted(folder.glob("*.png"))
    if not files:
        raise LolzooError(f"{folder}: no finetuning images")
    return files


def load_images(folder: str | Path, resolution: int) -> torch.Tensor:
    """(N, 3, resolution, resolution) floats in [-1, 1], as the DreamBooth example normalises them."""
    from PIL import Image

    tensors = []
    for path in image_files(folder):
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (resolution, resolution):  # the example resizes then centre-crops
                scale = resolution / min(image.size)
                image = image.resize((max(resolution, round(image.width * scale)),
                                      max(resolution, round(image.height * scale))), Image.BILINEAR)
                left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
                image = image.crop((left, top, left + resolution, top + resolution))
            pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        tensors.append(torch.from_numpy(pixels).permute(2, 0, 1))
    return torch.stack(tensors)


def lora_labels(folder: str | Path) -> dict:
    """The LoRA-level labels (majority attributes, present classes, dataset size): flat scalars."""
    labels = read_metadata(folder).get("labels")
    if not isinstance(labels, dict):
        raise LolzooError(f"{folder}/{METADATA_FILE}: no LoRA-level 'labels' object")
    bad = {k: v for k, v in labels.items() if not isinstance(v, (int, float, str, bool))}
    if bad:
        raise LolzooError(f"{folder}/{METADATA_FILE}: labels must be scalars, got {bad}")
    return labels
