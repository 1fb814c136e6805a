"""What every finetuning-data builder returns (FinetuneData) and the small helpers they share.

Below prepare.py and each data source's builder (celeba, imagenette), so the builders and the
dispatcher that picks one import the format from here instead of from each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from lolzoo.errors import LolzooError


@dataclass
class FinetuneData:
    images: list[np.ndarray]
    per_image: list[dict]  # one dict per image, in file order (without the file name)
    labels: dict  # LoRA-level labels: flat, so they become label-CSV columns as they are
    info: dict = field(default_factory=dict)  # what the data is (kind, resolution, ids)


def majority(values: list[int]) -> int:
    """1 when more than half the values are 1 (a tie is 0: the attribute is not clearly there)."""
    return int(2 * sum(values) > len(values))


def parse_classes(classes) -> list[int]:
    """"0|3|7" (the recipe's form) or [0, 3, 7] -> [0, 3, 7]."""
    parts = classes.split("|") if isinstance(classes, str) else list(classes)
    present = sorted({int(c) for c in parts})
    if not present:
        raise LolzooError("recipe has no classes")
    return present


def square_image(path: Path, resolution: int) -> np.ndarray:
    """Centre-crop to a square, resize (bicubic) to resolution², as uint8 H × W × 3."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (OSError, ValueError) as err:
        raise LolzooError(f"{path}: cannot read the image ({err})") from None
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8).copy()
