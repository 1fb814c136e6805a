"""CelebA- and Imagenette-format folders made offline, for the paper world's stand-in run (issue 20).

The paper world reads CelebA (img_align_celeba/ JPEGs of 178 × 218, identity_CelebA.txt,
list_attr_celeba.txt with CelebA's 40 attributes) and Imagenette (imagenette2/train/<wnid>/*.JPEG)
from local copies its users download. These writers lay out the same files from the default
world's own stand-ins (procedural faces, scikit-learn's digits), so the paper world's readers and
rules run here unchanged. Face attributes that the procedural faces draw keep their values;
CelebA's others are -1 (absent), and CelebA has no Long_Hair, so it is left out as CelebA does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lolzoo.data.celeba import ATTRIBUTE_FILE, IDENTITY_FILE, IMAGES_DIR
from lolzoo.data.digits import class_images
from lolzoo.data.faces import FaceWorld
from lolzoo.data.imagenette import SPLIT, WNIDS

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
)
CELEBA_SIZE = (178, 218)  # width, height of img_align_celeba
IMAGENETTE_SIZE = (500, 375)  # a typical full-size Imagenette image


def write_celeba(root: str | Path, identities: int = 30, images_per_identity: int = 21, seed: int = 0) -> Path:
    """A CelebA folder of `identities` procedural identities with `images_per_identity` each.
    Images are numbered in CelebA's way (000001.jpg ...), identities interleaved in file order
    and given CelebA-like ids that are not in file order."""
    root = Path(root)
    (root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    world = FaceWorld(identities, seed)
    width, height = CELEBA_SIZE
    identity_lines, attribute_lines = [], []
    number = 0
    for k in range(images_per_identity):
        for identity in range(identities):
            number += 1
            name = f"{number:06d}.jpg"
            image, labels = world.render(identity, k, height)
            left = (height - width) // 2  # a portrait crop of the square render
            Image.fromarray(image[:, left:left + width]).save(root / IMAGES_DIR / name, quality=95)
            identity_lines.append(f"{name} {celeba_id(identity)}")
            values = [(1 if labels.get(attr) else -1) for attr in CELEBA_ATTRIBUTES]
            attribute_lines.append(f"{name} " + " ".join(f"{v:2d}" for v in values))
    (root / IDENTITY_FILE).write_text("\n".join(identity_lines) + "\n")
    (root / ATTRIBUTE_FILE).write_text(f"{number}\n" + " ".join(CELEBA_ATTRIBUTES) + "\n"
                                       + "\n".join(attribute_lines) + "\n")
    return root


def celeba_id(identity: int) -> int:
    """A CelebA-like id (1..10177) for a procedural identity, so that ids and file order differ."""
    return 1 + (identity * 7919) % 10177


def write_imagenette(root: str | Path, images_per_class: int = 20, seed: int = 0) -> Path:
    """An imagenette2 folder: train/<wnid>/<wnid>_<k>.JPEG, digit c standing in for class c, each
    digit centred on a full-size canvas of its background colour."""
    root = Path(root)
    width, height = IMAGENETTE_SIZE
    for c, wnid in enumerate(WNIDS):
        folder = root / SPLIT / wnid
        folder.mkdir(parents=True, exist_ok=True)
        images, indices = class_images(c, images_per_class, seed, resolution=height)
        for image, index in zip(images, indices):
            canvas = np.empty((height, width, 3), dtype=np.uint8)
            canvas[:] = image[0, 0]  # the digit's background colour
            left = (width - height) // 2
            canvas[:, left:left + height] = image
            Image.fromarray(canvas).save(folder / f"{wnid}_{int(index)}.JPEG", quality=95)
    return root
