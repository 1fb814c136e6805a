"""Imagenette for the paper world's dreambooth-classes zoo: a few images of each present class.

`root` is the unpacked imagenette2 folder (https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz,
see docs/paper-world.md) with train/<wnid>/*.JPEG. Class c is the c-th of the 10 WordNet ids
in ascending order, which is also the order of fastai's and torchvision's Imagenette:

  0 n01440764 tench              5 n03394916 French horn
  1 n02102040 English springer   6 n03417042 garbage truck
  2 n02979186 cassette player    7 n03425413 gas pump
  3 n03000684 chain saw          8 n03445777 golf ball
  4 n03028079 church             9 n03888605 parachute

A LoRA with classes "0|3|7" takes `images_per_class` images of each present class, drawn from
the class's files (sorted by name) with a generator seeded by (recipe seed, class), centre-
cropped to a square and resized (bicubic) to the data's resolution. Labels as the default
world's digits: class_0..class_9 (present or not), classes, num_classes, dataset_size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lolzoo.data.finetune_format import FinetuneData, parse_classes, square_image
from lolzoo.data.local_root import DOC, existing_root
from lolzoo.errors import LolzooError

WNIDS = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
         "n03394916", "n03417042", "n03425413", "n03445777", "n03888605")
CLASS_NAMES = ("tench", "English springer", "cassette player", "chain saw", "church",
               "French horn", "garbage truck", "gas pump", "golf ball", "parachute")
SPLIT = "train"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def check_root(root) -> Path:
    """The imagenette2 folder, or a one-line error naming what is missing."""
    root = existing_root(root, "imagenette", "imagenette2", "Imagenette")
    if not (root / SPLIT).is_dir():
        raise LolzooError(f"Imagenette root {root}: missing {SPLIT}/ (expected the unpacked imagenette2 "
                          f"folder with {SPLIT}/<wnid>/*.JPEG; see {DOC})")
    return root


def class_files(root: Path, class_index: int) -> list[Path]:
    if not 0 <= class_index < len(WNIDS):
        raise LolzooError(f"Imagenette has classes 0..{len(WNIDS) - 1}, not {class_index}")
    folder = root / SPLIT / WNIDS[class_index]
    if not folder.is_dir():
        raise LolzooError(f"Imagenette root {root}: missing {SPLIT}/{WNIDS[class_index]}/ "
                          f"(class {class_index}, {CLASS_NAMES[class_index]}; see {DOC})")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def imagenette_data(recipe: dict, data: dict):
    """The builder of (dreambooth-classes, imagenette): FinetuneData of the present classes."""
    root = check_root(data.get("root"))
    present = parse_classes(recipe["classes"])
    per_class, resolution = int(recipe["images_per_class"]), int(data["resolution"])
    images, per_image = [], []
    for c in present:
        files = class_files(root, c)
        if not 0 < per_class <= len(files):
            raise LolzooError(f"Imagenette root {root}: cannot take {per_class} images of "
                              f"{SPLIT}/{WNIDS[c]}/: it has {len(files)}")
        rng = np.random.default_rng([int(recipe["seed"]), c])
        for i in sorted(rng.choice(len(files), per_class, replace=False).tolist()):
            images.append(square_image(files[i], resolution))
            per_image.append({"class": c, "class_name": CLASS_NAMES[c], "wnid": WNIDS[c], "image": files[i].name})
    labels = {f"class_{c}": int(c in present) for c in range(len(WNIDS))}
    labels.update(classes="|".join(map(str, present)), num_classes=len(present), dataset_size=len(images))
    return FinetuneData(images, per_image, labels)
