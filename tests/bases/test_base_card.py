"""`lolzoo base-card`: every field present and in range, grids written; pieces checked alone."""

import json

import numpy as np
import pytest
from PIL import Image

from lolzoo.bases.base_card import digit_features, mismatched_captions, train_digit_classifier
from lolzoo.bases.pretrain_data import digit_set
from lolzoo.cli import main
from lolzoo.data.faces import ATTRIBUTES


def test_digit_classifier_reads_real_digits_whatever_their_colours():
    classifier, held_out = train_digit_classifier()
    assert held_out > 0.85
    images, labels = digit_set(limit=50)
    inverted = 255 - images  # swapped ink and background colours read the same
    assert (classifier.predict(digit_features(inverted)) == labels).mean() > 0.85


def test_mismatched_captions_always_differ():
    captions = ["a", "a", "b", "c", "c"]
    assert mismatched_captions(captions) == ["b", "b", "c", "a", "a"]
    assert mismatched_captions(["x", "x"]) == [None, None]


@pytest.mark.slow  # builds two bases and the whole card: the slowest test outside the workflow runs
def test_card_has_every_field_in_range(tmp_path, capsys):
    for kind in ("tiny-sd", "tiny-clip"):
        assert main(["build-base", "--kind", kind, "--out", str(tmp_path / kind)]) == 0
    out = tmp_path / "card"
    assert main(["base-card", "--sd", str(tmp_path / "tiny-sd"), "--clip", str(tmp_path / "tiny-clip"),
                 "--out", str(out), "--samples-per-digit", "2", "--face-samples", "8",
                 "--classifier-faces", "60", "--steps", "2", "--threads", "1"]) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["prompted_digit_chance"] == pytest.approx(0.1)
    for key in ("prompted_digit_accuracy", "digit_classifier_held_out_accuracy",
                "face_attribute_accuracy", "face_attribute_chance"):
        assert 0.0 <= card[key] <= 1.0, key
    assert set(card["prompted_digit_accuracy_per_class"]) == {str(c) for c in range(10)}
    for key in ("face_attribute_accuracy_per_attribute", "face_attribute_chance_per_attribute",
                "face_classifier_held_out_accuracy"):
        assert set(card[key]) == set(ATTRIBUTES)
        assert all(0.0 <= v <= 1.0 for v in card[key].values())
    assert all(0.5 <= v for v in card["face_attribute_chance_per_attribute"].values())
    for where in ("clip_margin_real", "clip_margin_samples"):
        for part in ("digits", "faces", "all"):
            m = card[where][part]
            assert m["margin"] == pytest.approx(m["matching"] - m["mismatched"])
            assert 0.0 <= m["matching"] <= 100.0 and 0.0 <= m["mismatched"] <= 100.0
    assert card["clip_margin"] == card["clip_margin_real"]["all"]["margin"]
    assert card["digit_samples"] == 20 and card["face_samples"] == 8
    assert Image.open(out / "digits_grid.png").size == (2 * 34 * 2, 10 * 34 * 2)  # a row per class
    assert np.asarray(Image.open(out / "faces_grid.png")).shape[-1] == 3
    assert "CLIP margin" in capsys.readouterr().out


def test_missing_base_is_a_one_line_error(tmp_path, capsys):
    assert main(["base-card", "--sd", str(tmp_path / "nope"), "--clip", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "card")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a base folder" in err


# --- the card's numbers on a case with known answers -------------------------------------------

RES = 32
# the faces the card prompts for (random_face_attributes, replaced): majority rates .75 .75 .5 .5 .75 .5 .75
PROMPTED_FACES = [
    {"Eyeglasses": 1, "No_Beard": 1, "Wearing_Hat": 0, "Smiling": 1, "Long_Hair": 1, "Male": 0, "Young": 0},
    {"Eyeglasses": 1, "No_Beard": 0, "Wearing_Hat": 1, "Smiling": 0, "Long_Hair": 0, "Male": 1, "Young": 0},
    {"Eyeglasses": 1, "No_Beard": 1, "Wearing_Hat": 0, "Smiling": 1, "Long_Hair": 1, "Male": 1, "Young": 1},
    {"Eyeglasses": 0, "No_Beard": 1, "Wearing_Hat": 1, "Smiling": 0, "Long_Hair": 1, "Male": 0, "Young": 0},
]
# which face samples each attribute's classifier reads wrong: accuracies .75 1 .5 .75 1 0 1
FACE_ERRORS = {"Eyeglasses": {0}, "No_Beard": set(), "Wearing_Hat": {1, 2}, "Smiling": {3}, "Long_Hair": set(),
               "Male": {0, 1, 2, 3}, "Young": set()}


def marked(index: int) -> np.ndarray:
    """A black image with one white 2x2 block inside the border: the block's place is the index."""
    image = np.zeros((RES, RES, 3), np.uint8)
    r, c = 1 + index // 14, 1 + index % 14
    image[2 * r:2 * r + 2, 2 * c:2 * c + 2] = 255
    return image


def index_of(plane: np.ndarray, pooled: int) -> int:
    """The index `marked` drew into a (RES/pooled)-wide grey plane (the brightest place)."""
    r, c = divmod(int(np.argmax(plane)), plane.shape[-1])
    r, c = r * pooled // 2, c * pooled // 2
    return (r - 1) * 14 + (c - 1)


class KnownWorld:
    """Samples that name themselves, classifiers with planned mistakes, a CLIP with set scores."""

    def __init__(self):
        from lolzoo.bases.base_card import CLASSIFIER_FACE_IMAGES_FROM
        from lolzoo.bases.pretrain_data import digit_caption, face_caption, face_set

        self.prompts: list[str] = []  # of every sampled image, by its mark
        self.calls: list[range] = []
        self.truth: dict[bytes, str] = {}  # image bytes -> the caption it really has
        digits, classes = digit_set(RES)
        faces, attributes = face_set(500, RES, first_image=CLASSIFIER_FACE_IMAGES_FROM + 10)
        for image, caption in zip([*digits, *faces], [*map(digit_caption, classes), *map(face_caption, attributes)]):
            assert self.truth.setdefault(image.tobytes(), caption) == caption
        self.digit_caption = digit_caption

    def sample(self, pipeline, prompts, seed, guidance_scale, steps):
        first = len(self.prompts)
        self.calls.append(range(first, first + len(prompts)))
        self.prompts += prompts
        images = np.stack([marked(first + k) for k in range(len(prompts))])
        for image, prompt in zip(images, prompts):
            self.truth[image.tobytes()] = prompt
        return images

    def digit_classifier(self, resolution, seed):
        world = self

        class Classifier:
            def predict(self, features):
                """Right on class 0, always wrong on class 1, wrong on the first sample of every other class."""
                out = []
                for row in features:
                    index = index_of(row.reshape(RES // 2, RES // 2), pooled=2)
                    assert index in world.calls[0]
                    wanted = next(c for c in range(10) if world.digit_caption(c) == world.prompts[index])
                    first_of_class = world.prompts.index(world.prompts[index]) == index
                    out.append(7 if wanted == 1 else (wanted + 1) % 10 if wanted > 1 and first_of_class else wanted)
                return np.array(out)

        return Classifier(), 0.9

    def face_classifiers(self, count, resolution):
        world = self

        class Classifier:
            def __init__(self, name):
                self.name = name

            def predict(self, features):
                out = []
                for row in features:
                    position = index_of(row.reshape(RES, RES, 3)[..., 0], pooled=1) - world.calls[1][0]
                    asked = PROMPTED_FACES[position][self.name]
                    out.append(1 - asked if position in FACE_ERRORS[self.name] else asked)
                return np.array(out)

        return {name: Classifier(name) for name in ATTRIBUTES}, {name: 0.8 for name in ATTRIBUTES}

    def clip_score(self, pixels, captions):
        """30 for a digit with its own caption, 20 with another; 25 and 21 for a face."""
        import torch

        images = (pixels.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
        scores = []
        for image, caption in zip(images, captions, strict=True):
            truth = self.truth[image.tobytes()]
            digit = truth.startswith("a photo of the digit")
            scores.append((30.0 if digit else 25.0) if caption == truth else (20.0 if digit else 21.0))
        return torch.tensor(scores)


def test_card_metrics_on_known_samples_classifiers_and_scores(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from lolzoo.bases import base_card

    world = KnownWorld()
    monkeypatch.setattr(base_card, "sample", world.sample)
    monkeypatch.setattr(base_card, "train_digit_classifier", world.digit_classifier)
    monkeypatch.setattr(base_card, "train_face_classifiers", world.face_classifiers)
    monkeypatch.setattr(base_card, "random_face_attributes", lambda count, seed: PROMPTED_FACES[:count])
    pipeline = SimpleNamespace(unet=SimpleNamespace(config=SimpleNamespace(sample_size=RES // 4)), vae_scale_factor=4)
    card = base_card.make_card(pipeline, SimpleNamespace(clip_score=world.clip_score), tmp_path / "card",
                               samples_per_digit=4, face_samples=4)
    assert [len(call) for call in world.calls] == [40, 4]

    assert card["prompted_digit_accuracy_per_class"] == {"0": 1.0, "1": 0.0, **{str(c): 0.75 for c in range(2, 10)}}
    assert card["prompted_digit_accuracy"] == pytest.approx(0.7)  # the mean over classes: (1 + 0 + 8 x 0.75) / 10
    assert card["digit_classifier_held_out_accuracy"] == 0.9 and card["digit_samples"] == 40

    accuracies = [0.75, 1.0, 0.5, 0.75, 1.0, 0.0, 1.0]
    assert card["face_attribute_accuracy_per_attribute"] == dict(zip(ATTRIBUTES, accuracies))
    assert card["face_attribute_accuracy"] == pytest.approx(5 / 7)
    chances = [0.75, 0.75, 0.5, 0.5, 0.75, 0.5, 0.75]  # Young is asked 1 time in 4: its majority rate is 0.75
    assert card["face_attribute_chance_per_attribute"] == dict(zip(ATTRIBUTES, chances))
    assert card["face_attribute_chance"] == pytest.approx(4.5 / 7)
    assert card["face_classifier_held_out_accuracy"] == {name: 0.8 for name in ATTRIBUTES}

    real = card["clip_margin_real"]  # 500 digits and 500 faces
    assert real["digits"] == {"matching": 30.0, "mismatched": 20.0, "margin": 10.0}
    assert real["faces"] == {"matching": 25.0, "mismatched": 21.0, "margin": 4.0}
    assert real["all"] == pytest.approx({"matching": 27.5, "mismatched": 20.5, "margin": 7.0})
    assert card["clip_margin"] == pytest.approx(7.0)
    samples = card["clip_margin_samples"]  # 40 digits and 4 faces: "all" weighs each image alike
    assert samples["digits"] == {"matching": 30.0, "mismatched": 20.0, "margin": 10.0}
    assert samples["faces"] == {"matching": 25.0, "mismatched": 21.0, "margin": 4.0}
    assert samples["all"] == pytest.approx({"matching": 1300 / 44, "mismatched": 884 / 44, "margin": 416 / 44})
