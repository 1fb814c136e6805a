"""The paper world's data builders on tiny fake CelebA and Imagenette folders made here."""

import numpy as np
import pytest
from PIL import Image

from lolzoo.data.celeba import eligible_identities
from lolzoo.data.imagenette import WNIDS
from lolzoo.data.prepare import BUILDERS, finetune_data
from lolzoo.errors import LolzooError

ATTRS = ["5_o_Clock_Shadow", "Male", "No_Beard", "Young", "Eyeglasses"]
# identity id -> number of images; ids not in file order on purpose
COUNTS = {2880: 3, 17: 2, 9: 4, 501: 1}


@pytest.fixture
def celeba(tmp_path):
    """A CelebA-shaped folder: 178 × 218 JPEGs, identity and attribute files."""
    root = tmp_path / "CelebA"
    (root / "img_align_celeba").mkdir(parents=True)
    identity_lines, attribute_lines = [], []
    number = 0
    for identity, count in COUNTS.items():
        for k in range(count):
            number += 1
            name = f"{number:06d}.jpg"
            Image.new("RGB", (178, 218), (number * 20 % 256, 100, 50)).save(root / "img_align_celeba" / name)
            identity_lines.append(f"{name} {identity}")
            # Male: 1 for every image of 9; Young: 1 only for the first image of each identity
            values = [-1, 1 if identity == 9 else -1, 1, 1 if k == 0 else -1, -1]
            attribute_lines.append(f"{name} " + " ".join(f"{v:2d}" for v in values))
    (root / "identity_CelebA.txt").write_text("\n".join(identity_lines) + "\n")
    (root / "list_attr_celeba.txt").write_text(f"{number}\n" + " ".join(ATTRS) + "\n" + "\n".join(attribute_lines) + "\n")
    return root


@pytest.fixture
def imagenette(tmp_path):
    root = tmp_path / "imagenette2"
    for c, wnid in enumerate(WNIDS):
        folder = root / "train" / wnid
        folder.mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (40 + 10 * k, 30), (c * 25, k * 80, 0)).save(folder / f"{wnid}_{k}.JPEG")
    return root


def celeba_job(root, subject=0, images=3, seed=0, resolution=16):
    return {"recipe": {"zoo": "celeba", "lora_id": f"celeba-{subject:05d}", "seed": seed, "subject": subject,
                       "images": images},
            "zoo": {"type": "dreambooth-subject", "images_per_lora": images},
            "data": {"kind": "celeba", "root": str(root) if root else root, "resolution": resolution}}


def imagenette_job(root, classes="0|3|7", per_class=2, seed=4, resolution=16):
    return {"recipe": {"zoo": "imagenette", "lora_id": "imagenette-00001", "seed": seed, "classes": classes,
                       "images_per_class": per_class},
            "zoo": {"type": "dreambooth-classes", "classes": 10},
            "data": {"kind": "imagenette", "root": str(root) if root else root, "resolution": resolution}}


def test_paper_pairings_are_registered():
    assert ("dreambooth-subject", "celeba") in BUILDERS and ("dreambooth-classes", "imagenette") in BUILDERS


def test_celeba_subjects_are_eligible_identities_sorted_by_id(celeba):
    assert eligible_identities(str(celeba), 3) == [9, 2880]
    assert eligible_identities(str(celeba), 1) == [9, 17, 501, 2880]
    built = finetune_data(celeba_job(celeba, subject=1, images=3))  # identity 2880: exactly 3 images
    assert built.labels["identity"] == 2880 and built.labels["subject"] == 1
    assert [row["image"] for row in built.per_image] == ["000001.jpg", "000002.jpg", "000003.jpg"]


def test_celeba_images_and_majority_labels(celeba):
    built = finetune_data(celeba_job(celeba, subject=0, images=3, resolution=16))  # identity 9 has 4 images
    assert len(built.images) == 3 and all(i.shape == (16, 16, 3) and i.dtype == np.uint8 for i in built.images)
    assert set(built.labels) == set(ATTRS) | {"subject", "identity", "dataset_size"}
    assert built.labels["Male"] == 1 and built.labels["No_Beard"] == 1 and built.labels["Eyeglasses"] == 0
    assert built.labels["Young"] == 0  # at most one image of three is Young
    assert built.labels["dataset_size"] == 3 and built.info["kind"] == "celeba"
    again = finetune_data(celeba_job(celeba, subject=0, images=3))
    assert [r["image"] for r in again.per_image] == [r["image"] for r in built.per_image]  # seeded subset


def test_celeba_centre_crop_keeps_the_middle(celeba):
    img = Image.new("RGB", (178, 218), (0, 0, 0))
    img.paste((255, 255, 255), (0, 20, 178, 198))  # white exactly on the centred 178 × 178 square
    img.save(celeba / "img_align_celeba" / "000001.jpg", quality=100)
    built = finetune_data(celeba_job(celeba, subject=1, images=3, resolution=8))
    assert built.images[0].min() > 200


def test_celeba_errors_name_the_problem(celeba, tmp_path):
    with pytest.raises(LolzooError, match=r"only 2 identities have at least 3 images.*paper-world.md"):
        finetune_data(celeba_job(celeba, subject=2, images=3))
    with pytest.raises(LolzooError, match="does not exist"):
        finetune_data(celeba_job(tmp_path / "nowhere"))
    with pytest.raises(LolzooError, match="root of the celeba source is null"):
        finetune_data(celeba_job(None))
    (celeba / "list_attr_celeba.txt").unlink()
    with pytest.raises(LolzooError, match="missing list_attr_celeba.txt"):
        finetune_data(celeba_job(celeba))


def test_celeba_missing_image_is_named(celeba):
    (celeba / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(LolzooError, match="missing image img_align_celeba/000002.jpg"):
        finetune_data(celeba_job(celeba, subject=1, images=3))


def test_imagenette_classes_and_labels(imagenette):
    built = finetune_data(imagenette_job(imagenette, classes="7|0|3", per_class=2))
    assert len(built.images) == 6 and all(i.shape == (16, 16, 3) for i in built.images)
    assert [row["class"] for row in built.per_image] == [0, 0, 3, 3, 7, 7]
    assert built.per_image[0]["wnid"] == "n01440764" and built.per_image[-1]["class_name"] == "gas pump"
    assert {k: v for k, v in built.labels.items() if k.startswith("class_")} == \
        {f"class_{c}": int(c in (0, 3, 7)) for c in range(10)}
    assert built.labels["classes"] == "0|3|7" and built.labels["num_classes"] == 3
    assert built.labels["dataset_size"] == 6
    same = finetune_data(imagenette_job(imagenette, classes="0|3|7", per_class=2))
    assert [r["image"] for r in same.per_image] == [r["image"] for r in built.per_image]
    picks = {tuple(r["image"] for r in finetune_data(imagenette_job(imagenette, "5", 1, seed=s)).per_image)
             for s in range(20)}
    assert len(picks) > 1  # the recipe seed chooses the images


def test_imagenette_errors_name_the_path(imagenette, tmp_path):
    with pytest.raises(LolzooError, match="does not exist.*paper-world.md"):
        finetune_data(imagenette_job(tmp_path / "nowhere"))
    with pytest.raises(LolzooError, match="cannot take 4 images"):
        finetune_data(imagenette_job(imagenette, per_class=4))
    import shutil

    shutil.rmtree(imagenette / "train" / WNIDS[3])
    with pytest.raises(LolzooError, match=f"missing train/{WNIDS[3]}/"):
        finetune_data(imagenette_job(imagenette))
    shutil.rmtree(imagenette / "train")
    with pytest.raises(LolzooError, match="missing train/"):
        finetune_data(imagenette_job(imagenette))
