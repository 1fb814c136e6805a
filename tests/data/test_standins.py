"""CelebA- and Imagenette-format stand-in folders (issue 20): the paper world's own readers take
them, and the labels they give back are the procedural faces' and the digits' own."""

import numpy as np
from PIL import Image

from lolzoo.data.celeba import eligible_identities
from lolzoo.data.faces import FaceWorld
from lolzoo.data.prepare import finetune_data
from lolzoo.data.standins import CELEBA_ATTRIBUTES, CELEBA_SIZE, IMAGENETTE_SIZE, celeba_id, write_celeba, \
    write_imagenette


def test_celeba_stand_in_reads_as_celeba_with_the_faces_labels(tmp_path):
    root = write_celeba(tmp_path / "CelebA", identities=3, images_per_identity=5, seed=0)
    assert len(CELEBA_ATTRIBUTES) == len(set(CELEBA_ATTRIBUTES)) == 40
    with Image.open(root / "img_align_celeba" / "000001.jpg") as first:
        assert first.size == CELEBA_SIZE
    assert eligible_identities(root, 5) == sorted(celeba_id(i) for i in range(3))
    job = {"recipe": {"zoo": "celeba", "lora_id": "celeba-00000", "seed": 0, "subject": 0, "images": 5},
           "zoo": {"type": "dreambooth-subject", "images_per_lora": 5},
           "data": {"kind": "celeba", "root": str(root), "resolution": 64}}
    built = finetune_data(job)
    assert len(built.images) == 5 and built.images[0].shape == (64, 64, 3)
    subject = sorted(range(3), key=celeba_id)[0]  # the first eligible identity by CelebA id
    world = FaceWorld(3, 0)
    for attribute in ("Eyeglasses", "Male", "No_Beard", "Smiling", "Wearing_Hat", "Young"):
        votes = [world.render(subject, k, 16)[1][attribute] for k in range(5)]
        assert built.labels[attribute] == int(sum(votes) * 2 > 5), attribute
    assert built.labels["Bald"] == 0 and "Long_Hair" not in built.labels  # CelebA has none


def test_imagenette_stand_in_reads_as_imagenette_with_its_classes(tmp_path):
    root = write_imagenette(tmp_path / "imagenette2", images_per_class=3, seed=0)
    files = sorted((root / "train").glob("*/*.JPEG"))
    assert len(files) == 30
    with Image.open(files[0]) as first:
        assert first.size == IMAGENETTE_SIZE
    job = {"recipe": {"zoo": "imagenette", "lora_id": "imagenette-00001", "seed": 4, "classes": "0|3|7",
                      "images_per_class": 2},
           "zoo": {"type": "dreambooth-classes", "classes": 10},
           "data": {"kind": "imagenette", "root": str(root), "resolution": 32}}
    built = finetune_data(job)
    assert [built.labels[f"class_{c}"] for c in range(10)] == [1, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert len(built.images) == 6 and all(np.asarray(image).shape == (32, 32, 3) for image in built.images)
