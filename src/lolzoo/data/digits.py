"""Coloured handwritten digits: the default world's offline stand-in for Imagenette.

scikit-learn ships 1,797 real handwritten digits (8×8, 16 grey levels, about 180 a class)
inside its wheel, so no download is needed. Each image is upscaled with bicubic
interpolation to the model's resolution and coloured with its own foreground/background
pair, drawn from the image's dataset index: the same digit is always the same "photo",
and the images are RGB with varied colours like Imagenette's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from lolzoo.errors import LolzooError

CLASSES = 10
CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MIN_COLOUR_GAP = 1.0  # summed |RGB| distance between a digit and its background, on 0..1


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported late: sklearn is slow to import

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def dataset_classes() -> np.ndarray:
    """The class of every dataset image, in dataset order (a copy: the cache stays intact)."""
    return _digits()[1].copy()


def class_indices(class_index: int) -> np.ndarray:
    """Dataset indices of every image of one class, in dataset order."""
    if not 0 <= class_index < CLASSES:
        raise LolzooError(f"digit class {class_index} is outside 0..{CLASSES - 1}")
    return np.flatnonzero(_digits()[1] == class_index)


def choose(class_index: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct dataset indices of one class, a deterministic function of the seed."""
    pool = class_indices(class_index)
    if not 0 < count <= len(pool):
        raise LolzooError(f"cannot choose {count} images of digit {class_index}: it has {len(pool)}")
    rng = np.random.default_rng([int(seed), class_index])
    return np.sort(rng.choice(pool, size=count, replace=False))


def colours(index: int) -> tuple[np.ndarray, np.ndarray]:
    """The (foreground, background) colour pair of dataset image `index`, far enough apart to read."""
    rng = np.random.default_rng([index, 8])  # 8: keeps these draws apart from other users of the index
    while True:
        foreground, background = rng.random(3), rng.random(3)
        if np.abs(foreground - background).sum() >= _MIN_COLOUR_GAP:
            return foreground, background


def digit_image(index: int, resolution: int) -> np.ndarray:
    """Dataset image `index`, upscaled and coloured: uint8, resolution × resolution × 3."""
    images, _ = _digits()
    if not 0 <= index < len(images):
        raise LolzooError(f"digit image {index} is outside 0..{len(images) - 1}")
    ink = Image.fromarray(images[index], mode="F").resize((resolution, resolution), Image.BICUBIC)
    ink = np.clip(np.asarray(ink), 0.0, 1.0)[..., None]  # bicubic overshoots a little
    foreground, background = colours(index)
    rgb = background * (1.0 - ink) + foreground * ink
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def class_images(class_index: int, count: int, seed: int, resolution: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """`count` images of one class (count × H × W × 3, uint8) and their dataset indices."""
    indices = choose(class_index, count, seed)
    return np.stack([digit_image(int(i), resolution) for i in indices]), indices
