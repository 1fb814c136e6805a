"""Validation loss and ARC-Challenge accuracy of a causal LM (a base, or a base with a LoRA).

- Validation loss: mean cross entropy per answer token over the held-out questions (prompt
  and correct answer, as finetuning sees them).
- ARC accuracy by log-likelihood: each choice's summed log-probability after the prompt; the
  question counts as right when the correct choice has the highest. The length-normalised
  variant divides by the choice's characters (lm-evaluation-harness's acc_norm). All choices of
  a question share one copy of the prompt in the batch (encoding.scoring_batch).
"""

from __future__ import annotations

import numpy as np
import torch

from lolzoo.language.encoding import (EncodedQuestion, answer_token_losses, at_least_float32, scoring_batch,
                                      training_batch)


@torch.no_grad()
def validation_loss(model, questions: list[EncodedQuestion], pad_id: int, batch_size: int,
                    device: torch.device) -> float:
    total, tokens = 0.0, 0
    for start in range(0, len(questions), batch_size):
        tensors = {k: v.to(device) for k, v in training_batch(questions[start:start + batch_size], pad_id).items()}
        logits = model(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]).logits
        summed, count = answer_token_losses(logits, tensors["labels"])
        total, tokens = total + float(summed), tokens + count
    return total / tokens


@torch.no_grad()
def choice_log_likelihoods(model, questions: list[EncodedQuestion], pad_id: int, batch_size: int,
                           device: torch.device) -> list[np.ndarray]:
    """Per question, the summed log-probability of each of its choices."""
    per_pair: list[float] = []
    for start in range(0, len(questions), batch_size):
        batch = scoring_batch(questions[start:start + batch_size], pad_id)
        logits = at_least_float32(model(input_ids=batch.input_ids.to(device),
                                        attention_mask=batch.attention_mask.to(device),
                                        position_ids=batch.position_ids.to(device)).logits)
        picked = logits[batch.rows.to(device), batch.from_positions.to(device)]
        token_scores = picked.log_softmax(-1).gather(1, batch.targets.to(device)[:, None])[:, 0].cpu()
        pairs = int(batch.choice_index.max()) + 1
        per_pair.extend(torch.zeros(pairs, dtype=torch.float64).index_add_(
            0, batch.choice_index, token_scores.double()).tolist())
    scores, cursor = [], 0
    for question in questions:
        scores.append(np.array(per_pair[cursor:cursor + len(question.choices)]))
        cursor += len(question.choices)
    return scores


def arc_accuracy(scores: list[np.ndarray], questions: list[EncodedQuestion]) -> dict[str, float]:
    answers = np.array([q.answer for q in questions])
    plain = np.array([int(np.argmax(s)) for s in scores])
    normalised = np.array([int(np.argmax(s / np.array(q.choice_chars))) for s, q in zip(scores, questions)])
    return {"accuracy": float((plain == answers).mean()), "accuracy_norm": float((normalised == answers).mean())}


def evaluate_model(model, validation: list[EncodedQuestion], test: list[EncodedQuestion], pad_id: int,
                   batch_size: int, device: torch.device) -> dict[str, float]:
    """The three numbers a LoRA's labels carry (and the base's card)."""
    accuracy = arc_accuracy(choice_log_likelihoods(model, test, pad_id, batch_size, device), test)
    return {"val_loss": validation_loss(model, validation, pad_id, batch_size, device),
            "arc_c_accuracy": accuracy["accuracy"], "arc_c_accuracy_norm": accuracy["accuracy_norm"]}
