"""`lolzoo finetune-data`: a shard of LoRAs' images and labels from a workflow job."""

import json

import numpy as np
import pytest
from PIL import Image

from lolzoo.cli import main
from lolzoo.data.faces import ATTRIBUTES
from lolzoo.data.finetune_format import majority
from lolzoo.data.prepare import finetune_data

FACES = {"kind": "procedural-faces", "identities": 50, "images_per_identity": 21, "resolution": 32}
DIGITS = {"kind": "sklearn-digits", "resolution": 32}


def face_job(**recipe):
    return {"recipe": {"zoo": "celeba", "lora_id": "celeba-00003", "seed": 5, "subject": 3, "images": 21, **recipe},
            "zoo": {"type": "dreambooth-subject", "images_per_lora": 21}, "data": FACES}


def digit_job(**recipe):
    return {"recipe": {"zoo": "imagenette", "lora_id": "imagenette-00001", "seed": 9, "classes": "0|3|7",
                       "images_per_class": 2, **recipe},
            "zoo": {"type": "dreambooth-classes", "classes": 10}, "data": DIGITS}


def shard(*jobs):
    """The shard job the workflow passes: the one-LoRA jobs' recipes, their shared zoo and data."""
    return {"recipes": [job["recipe"] for job in jobs], "zoo": jobs[0]["zoo"], "data": jobs[0]["data"]}


def run_cli(job, out):
    """A one-LoRA job as a shard of one; the LoRA's folder is out/<lora_id>."""
    shard_job = shard(job) if isinstance(job, dict) and "recipe" in job else job
    return main(["finetune-data", "--job", json.dumps(shard_job), "--out", str(out)])


def test_majority_breaks_ties_towards_absent():
    assert majority([1, 1, 0]) == 1 and majority([1, 0]) == 0 and majority([0, 0, 1]) == 0


def test_face_labels_are_the_majority_over_the_images():
    built = finetune_data(face_job())
    assert len(built.images) == 21 and built.labels["dataset_size"] == 21 and built.labels["subject"] == 3
    for name in ATTRIBUTES:
        votes = [row[name] for row in built.per_image]
        assert built.labels[name] == int(sum(votes) > 10)


def test_face_majority_recovers_the_identity_despite_noise():
    from lolzoo.data.faces import FaceWorld

    world = FaceWorld(FACES["identities"], seed=0, attribute_noise=0.07)
    agree = [finetune_data(face_job(subject=s)).labels == {**world.identity_attributes(s), "subject": s,
                                                            "dataset_size": 21} for s in range(20)]
    assert np.mean(agree) >= 0.95


def test_fewer_images_than_an_identity_has_are_a_seeded_subset():
    a, b = finetune_data(face_job(images=5)), finetune_data(face_job(images=5))
    indices = [row["image_index"] for row in a.per_image]
    assert indices == [row["image_index"] for row in b.per_image] and len(set(indices)) == 5
    assert indices != [row["image_index"] for row in finetune_data(face_job(images=5, seed=6)).per_image]


def test_cli_writes_faces_folder_and_metadata(tmp_path):
    assert run_cli(face_job(), tmp_path / "shard") == 0
    assert [p.name for p in (tmp_path / "shard").iterdir()] == ["celeba-00003"]
    folder = tmp_path / "shard" / "celeba-00003"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert sorted(p.name for p in folder.glob("*.png")) == [f"{i:03d}.png" for i in range(21)]
    assert np.asarray(Image.open(folder / "000.png")).shape == (32, 32, 3)
    assert metadata["lora_id"] == "celeba-00003" and metadata["kind"] == "procedural-faces"
    assert [row["file"] for row in metadata["images"]] == [f"{i:03d}.png" for i in range(21)]
    assert set(ATTRIBUTES) <= set(metadata["labels"]) and metadata["labels"]["dataset_size"] == 21


def test_cli_writes_digits_with_present_classes(tmp_path):
    assert run_cli(digit_job(), tmp_path / "shard") == 0
    metadata = json.loads((tmp_path / "shard" / "imagenette-00001" / "metadata.json").read_text())
    labels = metadata["labels"]
    assert labels["classes"] == "0|3|7" and labels["num_classes"] == 3 and labels["dataset_size"] == 6
    assert [labels[f"class_{c}"] for c in range(10)] == [1, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert [row["class"] for row in metadata["images"]] == [0, 0, 3, 3, 7, 7]
    assert len(list((tmp_path / "shard" / "imagenette-00001").glob("*.png"))) == 6


def test_a_shard_holds_each_loras_own_folder(tmp_path):
    jobs = [face_job(lora_id=f"celeba-{i:05d}", subject=i, seed=i) for i in range(3)]
    assert run_cli(shard(*jobs), tmp_path / "shard") == 0
    assert sorted(p.name for p in (tmp_path / "shard").iterdir()) == [f"celeba-{i:05d}" for i in range(3)]
    for i in range(3):
        alone = tmp_path / f"alone-{i}"
        assert run_cli(jobs[i], alone) == 0  # a LoRA's data does not depend on its shard mates
        for path in sorted((alone / f"celeba-{i:05d}").iterdir()):
            assert path.read_bytes() == (tmp_path / "shard" / f"celeba-{i:05d}" / path.name).read_bytes()


def test_one_bad_recipe_fails_the_whole_shard_and_writes_nothing(tmp_path, capsys):
    good, bad = face_job(lora_id="celeba-00000", subject=0), face_job(lora_id="celeba-00001", subject=50)
    assert run_cli(shard(good, bad), tmp_path / "shard") == 2
    assert "identity 50 is outside" in capsys.readouterr().err
    assert not (tmp_path / "shard").exists()


def test_same_job_same_bytes(tmp_path):
    for name in ("a", "b"):
        assert run_cli(face_job(), tmp_path / name) == 0
    for path in sorted((tmp_path / "a" / "celeba-00003").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / "celeba-00003" / path.name).read_bytes(), path.name


@pytest.mark.parametrize("job, message", [
    ({"recipe": {"lora_id": "imagenette-00000"}, "zoo": {"type": "dreambooth-classes"}, "data": DIGITS},
     "missing 'classes'"),
    ({"recipe": {}, "zoo": {"type": "dreambooth-classes"}, "data": DIGITS}, "without a usable lora_id"),
    (shard(face_job(), face_job()), "lora_id 'celeba-00003' appears more than once"),  # lolzoo.recipes.job's words
    ({"recipes": [], "zoo": {}, "data": DIGITS}, "non-empty list of recipe rows"),
    ({**face_job(), "data": DIGITS}, "no finetuning data for a dreambooth-subject zoo on sklearn-digits"),
    (face_job(images=22), "each identity has 21"),
    (face_job(subject=50), "identity 50 is outside"),
    (digit_job(classes="0|x"), "malformed"),
    (digit_job(classes="0|12"), "class 12"),
    ([1, 2], "JSON object"),
])
def test_cli_refuses_a_malformed_job_with_one_line(tmp_path, capsys, job, message):
    assert run_cli(job, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("lolzoo finetune-data: error:")
    assert not (tmp_path / "out").exists()
