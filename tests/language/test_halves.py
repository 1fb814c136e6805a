"""Split-half scores (issue 18): `Scorer.evaluate(halves=True)` and `lolzoo evaluate-language
--halves` add each score on the even- and odd-indexed questions, whose weighted mean is the
full score, without changing the full scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lolzoo.cli import main
from lolzoo.language.encoding import encode
from lolzoo.language.evaluate import Scorer

from .conftest import make_questions, tiny_qwen2

PAD = 256
LABELS = ("val_loss", "arc_c_accuracy", "arc_c_accuracy_norm")


@pytest.mark.parametrize("batch_size", [1, 4])
def test_halves_combine_to_the_full_scores(byte_tokenizer, batch_size):
    model = tiny_qwen2(dtype=torch.float64)
    validation = encode(byte_tokenizer, make_questions(9), max_length=200)
    test = encode(byte_tokenizer, make_questions(12), max_length=200)  # halves of 6 questions
    scorer = Scorer(validation, test, PAD, batch_size, torch.device("cpu"))
    plain, halved = scorer.evaluate(model), scorer.evaluate(model, halves=True)
    assert set(halved) == set(LABELS) | {f"{label}_{half}" for label in LABELS for half in ("even", "odd")}
    for label in LABELS:  # the full scores are those of a plain evaluation
        assert halved[label] == pytest.approx(plain[label], rel=1e-12)
    for label in ("arc_c_accuracy", "arc_c_accuracy_norm"):  # 6 + 6 questions: the plain mean
        assert (halved[f"{label}_even"] + halved[f"{label}_odd"]) / 2 == pytest.approx(halved[label], abs=1e-12)
    # val_loss: the halves weighted by their answer tokens
    sums, counts = scorer.validation_losses(model)
    assert sums.shape == counts.shape == (9,) and (counts > 0).all()
    even, odd = counts[0::2].sum(), counts[1::2].sum()
    assert (even * halved["val_loss_even"] + odd * halved["val_loss_odd"]) / (even + odd) == pytest.approx(
        halved["val_loss"], rel=1e-12)
    assert halved["val_loss_even"] == pytest.approx(sums[0::2].sum() / even)


def test_per_question_losses_match_each_question_alone(byte_tokenizer):
    """A question's loss does not depend on the batch it is in (padding, other questions)."""
    model = tiny_qwen2(dtype=torch.float64)
    validation = encode(byte_tokenizer, make_questions(5), max_length=200)
    together = Scorer(validation, [], PAD, 5, torch.device("cpu")).validation_losses(model)
    for i, question in enumerate(validation):
        alone = Scorer([question], [], PAD, 1, torch.device("cpu")).validation_losses(model)
        np.testing.assert_allclose([together[0][i], together[1][i]], [alone[0][0], alone[1][0]], rtol=1e-9)


def test_the_cli_writes_half_scores_beside_the_full_ones(world, tmp_path):
    job = json.dumps({"zoo": {"type": "arc-sources", "lora": {"rank": 2, "alpha": 4, "target_modules": ["k_proj"]},
                              "max_length": 128, "evaluation": {"batch_size": 4}}, "recipes": []})
    argv = ["evaluate-language", "--job", job, "--base", str(world / "base"), "--data", str(world / "arc")]
    assert main([*argv, "--out", str(tmp_path / "plain.json")]) == 0
    assert main([*argv, "--halves", "--out", str(tmp_path / "halves.json")]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())
    halves = json.loads((tmp_path / "halves.json").read_text())
    assert not any(key.endswith(("_even", "_odd")) for key in plain)
    for label in LABELS:
        assert halves[label] == pytest.approx(plain[label], rel=1e-6)
        assert 0 <= halves[f"{label}_even"] and 0 <= halves[f"{label}_odd"]
    # the fixture's test split has 6 questions: 3 even, 3 odd
    assert (halves["arc_c_accuracy_even"] + halves["arc_c_accuracy_odd"]) / 2 == pytest.approx(halves["arc_c_accuracy"])
