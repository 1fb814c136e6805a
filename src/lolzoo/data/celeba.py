"""CelebA for the paper world's dreambooth-subject zoo: one celebrity's images per LoRA.

`root` is a local CelebA folder (see docs/paper-world.md for the download) holding
  img_align_celeba/000001.jpg ...   the aligned-and-cropped faces (178 × 218)
  identity_CelebA.txt               "000001.jpg 2880" per line: image -> celebrity id
  list_attr_celeba.txt              image count, the 40 attribute names, then "000001.jpg  -1 1 ..."

A recipe's `subject` i is the i-th *eligible* identity: those with at least the recipe's
`images` images, sorted by their numeric CelebA id (deterministic, independent of file
order). A LoRA takes all of the identity's images when it has exactly that many, otherwise a
subset drawn with the recipe's seed (as the default world's faces). Images are centre-cropped
to a square and resized (bicubic) to the data's resolution. Labels: every CelebA attribute
(±1 -> 1/0) as the majority over the LoRA's images (a tie is 0), plus subject, identity and
dataset_size. CelebA has no Long_Hair, which the default world's faces have.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from lolzoo.data.finetune_format import FinetuneData, majority, square_image
from lolzoo.data.local_root import DOC, existing_root
from lolzoo.errors import LolzooError

IMAGES_DIR = "img_align_celeba"
IDENTITY_FILE = "identity_CelebA.txt"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
REQUIRED = (IMAGES_DIR, IDENTITY_FILE, ATTRIBUTE_FILE)


def check_root(root) -> Path:
    """The CelebA folder, or a one-line error naming what is missing."""
    root = existing_root(root, "celeba", "CelebA", "CelebA")
    missing = [name for name in REQUIRED if not (root / name).exists()]
    if missing:
        raise LolzooError(f"CelebA root {root}: missing {', '.join(missing)} (see {DOC} for the files needed)")
    return root


@lru_cache(maxsize=4)
def identities(root: str) -> dict[int, list[str]]:
    """celebrity id -> its image file names, sorted."""
    path = Path(root) / IDENTITY_FILE
    by_id: dict[int, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            name, identity = parts
            by_id.setdefault(int(identity), []).append(name)
        except ValueError:
            raise LolzooError(f"{path}:{number}: expected '<image> <identity id>', got {line.strip()!r}") from None
    return {identity: sorted(names) for identity, names in sorted(by_id.items())}


def eligible_identities(root: str, min_images: int) -> list[int]:
    """Ids of the celebrities with at least `min_images` images, ascending."""
    return [identity for identity, names in identities(root).items() if len(names) >= min_images]


def read_attributes(root: str, names: set[str]) -> tuple[list[str], dict[str, list[int]]]:
    """(the attribute names, {image: 0/1 per attribute}) for the images asked for."""
    path = Path(root) / ATTRIBUTE_FILE
    with path.open() as lines:
        next(lines, None)  # the image count
        header = next(lines, "").split()
        if not header:
            raise LolzooError(f"{path}: no attribute names on line 2")
        found = {}
        for line in lines:
            parts = line.split()
            if parts and parts[0] in names:
                if len(parts) != len(header) + 1:
                    raise LolzooError(f"{path}: {parts[0]} has {len(parts) - 1} values for {len(header)} attributes")
                found[parts[0]] = [int(int(v) > 0) for v in parts[1:]]
    missing = sorted(names - set(found))
    if missing:
        raise LolzooError(f"{path}: no attributes for {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    return header, found


def celeba_data(recipe: dict, data: dict):
    """The builder of (dreambooth-subject, celeba): FinetuneData of one celebrity's images."""
    root = check_root(data.get("root"))
    subject, count = int(recipe["subject"]), int(recipe["images"])
    if count < 1:
        raise LolzooError(f"recipe asks for {count} images of a subject")
    eligible = eligible_identities(str(root), count)
    if not 0 <= subject < len(eligible):
        raise LolzooError(f"CelebA root {root}: subject {subject} does not exist: only {len(eligible)} "
                          f"identities have at least {count} images (zoo count too large for "
                          f"images_per_lora {count}; see {DOC})")
    identity = eligible[subject]
    names = identities(str(root))[identity]
    rng = np.random.default_rng([int(recipe["seed"]), subject])
    chosen = names if len(names) == count else [names[i] for i in sorted(rng.choice(len(names), count, replace=False))]
    header, attributes = read_attributes(str(root), set(chosen))
    resolution = int(data["resolution"])
    images, per_image = [], []
    for name in chosen:
        path = root / IMAGES_DIR / name
        if not path.is_file():
            raise LolzooError(f"CelebA root {root}: missing image {IMAGES_DIR}/{name} (see {DOC})")
        images.append(square_image(path, resolution))
        per_image.append({"image": name, "identity": identity, **dict(zip(header, attributes[name]))})
    labels = {attribute: majority([row[attribute] for row in per_image]) for attribute in header}
    labels.update(subject=subject, identity=identity, dataset_size=len(images))
    return FinetuneData(images, per_image, labels)
