"""One LoRA's finetuning images and labels, from the job JSON the workflow passes per LoRA.

A job is {"recipe": <the LoRA's recipe row>, "zoo": <its zoo's config>, "data": <its data
source's config>}. Two default-world pairings exist:
- dreambooth-subject on procedural-faces: `images` images of identity `subject`; the LoRA's
  attribute labels are the majority over its images' (noisy) attributes, as in the paper.
- dreambooth-classes on sklearn-digits: `images_per_class` images of each class in `classes`.
The output folder holds 000.png, 001.png, ... and metadata.json (per-image attributes or
classes, the LoRA-level labels, the dataset size).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from lolzoo.data.celeba import celeba_data
from lolzoo.data.finetune_format import FinetuneData, majority, parse_classes
from lolzoo.data.imagenette import imagenette_data
from lolzoo.errors import LolzooError

DEFAULT_ATTRIBUTE_NOISE = 0.07
DEFAULT_WORLD_SEED = 0  # the face world is shared by every LoRA and the base, not per-LoRA


def _face_data(recipe: dict, data: dict) -> FinetuneData:
    from lolzoo.data.faces import ATTRIBUTES, FaceWorld

    world = FaceWorld(int(data["identities"]), seed=int(data.get("seed", DEFAULT_WORLD_SEED)),
                      attribute_noise=float(data.get("attribute_noise", DEFAULT_ATTRIBUTE_NOISE)))
    subject, count, available = int(recipe["subject"]), int(recipe["images"]), int(data["images_per_identity"])
    if not 0 < count <= available:
        raise LolzooError(f"recipe asks for {count} images of a subject; each identity has {available}")
    # Every image when the LoRA takes them all; otherwise a subset drawn with the LoRA's seed.
    rng = np.random.default_rng([int(recipe["seed"]), subject])
    chosen = range(count) if count == available else sorted(rng.choice(available, count, replace=False).tolist())
    images, per_image = [], []
    for image_index in chosen:
        image, attributes = world.render(subject, int(image_index), int(data["resolution"]))
        images.append(image)
        per_image.append({"image_index": int(image_index), **attributes})
    labels = {name: majority([row[name] for row in per_image]) for name in ATTRIBUTES}
    labels.update(subject=subject, dataset_size=len(images))
    return FinetuneData(images, per_image, labels)


def _digit_data(recipe: dict, data: dict) -> FinetuneData:
    from lolzoo.data.digits import CLASS_NAMES, CLASSES, class_images

    present = parse_classes(recipe["classes"])
    per_class = int(recipe["images_per_class"])
    images, per_image = [], []
    for c in present:
        chosen, indices = class_images(c, per_class, seed=int(recipe["seed"]), resolution=int(data["resolution"]))
        images.extend(chosen)
        per_image.extend({"class": c, "class_name": CLASS_NAMES[c], "dataset_index": int(i)} for i in indices)
    labels = {f"class_{c}": int(c in present) for c in range(CLASSES)}
    labels.update(classes="|".join(map(str, present)), num_classes=len(present), dataset_size=len(images))
    return FinetuneData(images, per_image, labels)


# (zoo type, data kind) -> builder: the default world's pairings and the paper world's.
BUILDERS = {
    ("dreambooth-subject", "procedural-faces"): _face_data,
    ("dreambooth-classes", "sklearn-digits"): _digit_data,
    ("dreambooth-subject", "celeba"): celeba_data,  # the paper world's: lolzoo.data.celeba
    ("dreambooth-classes", "imagenette"): imagenette_data,  # lolzoo.data.imagenette
}


def finetune_data(job: dict) -> FinetuneData:
    """Build one LoRA's images and labels; a malformed job raises LolzooError naming the problem."""
    try:
        recipe, zoo, data = job["recipe"], job["zoo"], job["data"]
        pairing = (zoo["type"], data["kind"])
        if pairing not in BUILDERS:
            known = ", ".join(f"{t} on {k}" for t, k in BUILDERS)
            raise LolzooError(f"no finetuning data for a {pairing[0]} zoo on {pairing[1]} data (known: {known})")
        built = BUILDERS[pairing](recipe, data)
    except KeyError as err:
        raise LolzooError(f"job is missing {err}") from None
    except (TypeError, ValueError) as err:
        if isinstance(err, LolzooError):
            raise
        raise LolzooError(f"job is malformed: {err}") from None
    built.info = {"kind": data["kind"], "zoo": recipe.get("zoo"), "lora_id": recipe.get("lora_id"),
                  "resolution": int(data["resolution"])}
    return built


def write_finetune_data(built: FinetuneData, out: str | Path, overwrite: bool = True) -> None:
    """Write 000.png, 001.png, ... and metadata.json into `out`, atomically."""
    from lolzoo.io import atomic_dir

    with atomic_dir(out, overwrite=overwrite) as staging:
        rows = []
        for number, (image, row) in enumerate(zip(built.images, built.per_image)):
            name = f"{number:03d}.png"
            Image.fromarray(image).save(staging / name)
            rows.append({"file": name, **row})
        metadata = {**built.info, "images": rows, "labels": built.labels}
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
