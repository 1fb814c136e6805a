"""Captioned pretraining images from the default world's stand-ins: digits and faces together.

One base serves both zoos (as SD 1.4 serves CelebA and Imagenette in the paper), so it learns
both domains from one mixed set: every image of scikit-learn's 1,797 digits captioned with its
class ("a photo of the digit seven") and procedural faces captioned from their attributes
("a photo of a smiling young man with glasses and a hat"). Captions use only words of our
tokenizer's corpus, so each word is one token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from lolzoo.data.digits import CLASS_NAMES

# A face world of its own (seed) so pretraining identities are not the zoos' LoRA identities.
PRETRAIN_FACE_WORLD_SEED = 1_000_003
PRETRAIN_FACE_IDENTITIES = 1000
# the "with ..." parts of a face caption, in caption order (No_Beard is inverted below)
FACE_ACCESSORIES = (("Eyeglasses", "glasses"), ("Beard", "a beard"), ("Wearing_Hat", "a hat"),
                    ("Long_Hair", "long hair"))


def digit_caption(class_index: int) -> str:
    return f"a photo of the digit {CLASS_NAMES[class_index]}"


def face_caption(attributes: dict[str, int]) -> str:
    """A caption naming all seven attributes, e.g. 'a photo of a smiling old woman with a hat'."""
    has = dict(attributes)
    has["Beard"] = 1 - int(attributes["No_Beard"])
    words = ["a photo of a"]
    if has["Smiling"]:
        words.append("smiling")
    words.append("young" if has["Young"] else "old")
    words.append("man" if has["Male"] else "woman")
    extras = [phrase for name, phrase in FACE_ACCESSORIES if has[name]]
    if extras:
        words.append("with " + " and ".join(extras))
    return " ".join(words)


@dataclass
class CaptionedImages:
    """Images as (N, 3, H, W) floats in [-1, 1] (the VAE's range), one caption each, and the domain."""

    images: torch.Tensor
    captions: list[str]
    domains: list[str]  # "digit" or "face"

    def __len__(self) -> int:
        return len(self.captions)


def to_model_range(images_uint8: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@lru_cache(maxsize=4)  # the card needs them twice (classifier, CLIP margin); read-only arrays
def digit_set(resolution: int = 32, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All (or the first `limit`) scikit-learn digits, upscaled and coloured, and their classes."""
    from lolzoo.data.digits import dataset_classes, digit_image

    labels = dataset_classes()
    count = len(labels) if limit is None else min(limit, len(labels))
    images, classes = np.stack([digit_image(i, resolution) for i in range(count)]), labels[:count].copy()
    images.flags.writeable = classes.flags.writeable = False
    return images, classes


def face_set(count: int, resolution: int = 32, seed: int = PRETRAIN_FACE_WORLD_SEED,
             first_image: int = 0) -> tuple[np.ndarray, list[dict[str, int]]]:
    """`count` faces, each of a different identity (cycling), with their per-image attributes.

    `first_image` offsets the image index, so a held-out set shows new images of the same world.
    """
    from lolzoo.data.faces import FaceWorld

    world = FaceWorld(PRETRAIN_FACE_IDENTITIES, seed)
    images, attributes = [], []
    for k in range(count):
        image, labels = world.render(k % PRETRAIN_FACE_IDENTITIES, first_image + k // PRETRAIN_FACE_IDENTITIES,
                                     resolution)
        images.append(image)
        attributes.append(labels)
    return np.stack(images), attributes


def captioned_images(faces: int = 1800, digits: int | None = None, resolution: int = 32) -> CaptionedImages:
    """The mixed pretraining set: the digits (all by default) and `faces` faces, digits first."""
    digit_pixels, classes = digit_set(resolution, digits)
    face_pixels, face_attributes = face_set(faces, resolution)
    captions = [digit_caption(int(c)) for c in classes] + [face_caption(a) for a in face_attributes]
    domains = ["digit"] * len(classes) + ["face"] * faces
    images = to_model_range(np.concatenate([digit_pixels, face_pixels]))
    return CaptionedImages(images=images, captions=captions, domains=domains)
