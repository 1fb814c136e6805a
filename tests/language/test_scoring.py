"""Scoring choices after one shared prompt gives each choice's log-likelihood exactly as if it
followed the prompt alone; training batches put the loss on the answer tokens only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lolzoo.data.arc_questions import ArcQuestion
from lolzoo.errors import LolzooError
from lolzoo.language.encoding import IGNORE, encode, training_batch
from lolzoo.language.evaluate import Scorer, arc_accuracy

from .conftest import make_questions, tiny_qwen2

PAD = 256


@torch.no_grad()
def naive_scores(model, encoded):
    """One forward per (question, choice): the definition the packed batch must match."""
    out = []
    for q in encoded:
        row = []
        for choice in q.choices:
            ids = torch.tensor([q.prompt + choice])
            logprobs = model(input_ids=ids).logits.double().log_softmax(-1)[0]
            row.append(sum(float(logprobs[len(q.prompt) - 1 + i, t]) for i, t in enumerate(choice)))
        out.append(np.array(row))
    return out


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_shared_prompt_scores_equal_one_forward_per_choice(byte_tokenizer, batch_size):
    model = tiny_qwen2(dtype=torch.float64)
    encoded = encode(byte_tokenizer, make_questions(7), max_length=200)
    packed = Scorer([], encoded, PAD, batch_size, torch.device("cpu")).choice_log_likelihoods(model)
    for got, want in zip(packed, naive_scores(model, encoded), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_accuracy_picks_the_highest_choice_plain_and_per_character(byte_tokenizer):
    questions = encode(byte_tokenizer, make_questions(2), max_length=200)
    # question 0: answer 0; question 1: answer 1
    first = np.array([-1.0, -2.0, -3.0])
    second = np.array([-1.0, -1.5, -9.0, -9.0])
    result = arc_accuracy([first, second], questions)
    assert result["accuracy"] == 0.5
    lengths = [np.array(q.choice_chars) for q in questions]
    normalised = [int(np.argmax(s / n)) == q.answer for s, n, q in zip([first, second], lengths, questions)]
    assert result["accuracy_norm"] == np.mean(normalised)


def length_flip_question(answer: int) -> ArcQuestion:
    """Choices whose continuations (" " + choice) are 2, 3 and 6 characters but 2, 3 and 11 byte tokens."""
    return ArcQuestion(id=f"Mercury_flip{answer}", source="Mercury", question="Which?",
                       choices=("a", "ab", "ééééé"), labels=("A", "B", "C"), answer=answer)


# summed log-likelihoods: plain argmax 0; per continuation character (-0.5, -0.4, -0.483) argmax 1;
# per choice character without the space (-1, -0.6, -0.58) or per token (-0.5, -0.4, -0.264) argmax 2
FLIP_SCORES = np.array([-1.0, -1.2, -2.9])


@pytest.mark.parametrize(("answer", "plain", "normalised"), [(1, 0.0, 1.0), (0, 1.0, 0.0), (2, 0.0, 0.0)])
def test_length_normalisation_divides_by_the_continuation_s_characters(byte_tokenizer, answer, plain, normalised):
    """acc_norm divides each choice's log-likelihood by the characters of " " + choice (not its tokens, not
    the bare choice): here that flips the argmax from the short choice to the middle one."""
    question = encode(byte_tokenizer, [length_flip_question(answer)], max_length=200)[0]
    assert question.choice_chars == (2, 3, 6)
    assert [len(c) for c in question.choices] == [2, 3, 11]
    assert arc_accuracy([FLIP_SCORES], [question]) == {"accuracy": plain, "accuracy_norm": normalised}


def test_a_scorer_reports_plain_and_normalised_accuracy_under_their_own_names(byte_tokenizer):
    class FixedScores(Scorer):
        def choice_log_likelihoods(self, model):
            return [FLIP_SCORES]

        def validation_loss(self, model):
            return 1.5

    encoded = encode(byte_tokenizer, [length_flip_question(1)], max_length=200)
    scorer = FixedScores([], encoded, PAD, 1, torch.device("cpu"))
    assert scorer.evaluate(None) == {"val_loss": 1.5, "arc_c_accuracy": 0.0, "arc_c_accuracy_norm": 1.0}


def test_training_batch_labels_only_the_answer(byte_tokenizer):
    encoded = encode(byte_tokenizer, make_questions(3), max_length=200)
    batch = training_batch(encoded, PAD)
    for row, q in enumerate(encoded):
        labels = batch["labels"][row]
        answer = labels[labels != IGNORE].tolist()
        assert answer == list(q.correct)
        assert batch["attention_mask"][row].sum() == len(q.prompt) + len(q.correct)
        assert batch["input_ids"][row, :len(q.prompt)].tolist() == list(q.prompt)


def test_validation_loss_is_the_token_weighted_mean_whatever_the_batch(byte_tokenizer):
    model = tiny_qwen2(dtype=torch.float64)
    encoded = encode(byte_tokenizer, make_questions(5), max_length=200)
    losses = [Scorer(encoded, [], PAD, size, torch.device("cpu")).validation_loss(model) for size in (1, 2, 5)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-10) == pytest.approx(losses[2], rel=1e-10)
    # the definition: mean next-token cross entropy over the answer tokens, one forward each
    total, tokens = 0.0, 0
    for q in encoded:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([q.prompt + q.correct])).logits[0].double()
        for i, token in enumerate(q.correct):
            total -= float(logits[len(q.prompt) - 1 + i].log_softmax(-1)[token])
            tokens += 1
    assert losses[0] == pytest.approx(total / tokens, rel=1e-9)


def test_long_prompts_keep_their_end_and_impossible_choices_fail(byte_tokenizer):
    question = make_questions(1)[0]
    encoded = encode(byte_tokenizer, [question], max_length=40)[0]
    assert len(encoded.prompt) + sum(len(c) for c in encoded.choices) <= 40
    assert bytes(encoded.prompt).decode().endswith("Answer:")
    with pytest.raises(LolzooError, match="choices alone"):
        encode(byte_tokenizer, [question], max_length=10)
