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
