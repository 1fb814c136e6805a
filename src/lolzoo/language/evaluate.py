"""Validation loss and ARC-Challenge accuracy of a causal LM (a base, or a base with a LoRA).

- Validation loss: mean cross entropy per answer token over the held-out questions (prompt
  and correct answer, as finetuning sees them).
- ARC accuracy by log-likelihood: each choice's summed log-probability after the prompt; the
  question counts as right when the correct choice has the highest. The length-normalised
  variant divides by the choice's characters (lm-evaluation-harness's acc_norm). All choices of
  a question share one copy of the prompt in the batch (encoding.scoring_batch).

A `Scorer` builds its batches once (questions sorted by length, so little is padding) and then
scores any number of LoRAs on them: a shard's LoRAs pay for tokenising and masks only once.
Only the positions that predict a scored token go through the output layer (log_probs.py).

`evaluate(model, halves=True)` adds each number on the even- and odd-indexed questions of its
split (<label>_even, <label>_odd): the halves of a split-half reliability. The full numbers are
then taken from the same per-question sums, so full = the halves' token-weighted (val_loss) or
question-weighted (accuracies) mean.
"""

from __future__ import annotations

import numpy as np
import torch

from lolzoo.language.encoding import EncodedQuestion, scoring_batch, training_batch
from lolzoo.language.log_probs import answer_targets, token_log_probs


def by_length(questions: list[EncodedQuestion], batch_size: int, length) -> list[list[int]]:
    """Index batches of questions of similar length (longest first), so batches carry little padding."""
    order = sorted(range(len(questions)), key=lambda i: -length(questions[i]))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class Scorer:
    def __init__(self, validation: list[EncodedQuestion], test: list[EncodedQuestion], pad_id: int,
                 batch_size: int, device: torch.device):
        self.test, self.device = test, device
        self.validation_batches, self.validation_questions = [], []
        for indices in by_length(validation, batch_size, lambda q: len(q.prompt) + len(q.correct)):
            batch = training_batch([validation[i] for i in indices], pad_id)
            self.validation_batches.append(self._on_device(batch["input_ids"], batch["attention_mask"], None,
                                                           *answer_targets(batch["labels"])))
            self.validation_questions.append(torch.tensor(indices))  # batch row -> question of the split
        self.validation_count = len(validation)
        self.test_batches = []
        for indices in by_length(test, batch_size, lambda q: len(q.prompt) + sum(map(len, q.choices))):
            batch = scoring_batch([test[i] for i in indices], pad_id)
            # flat (question, choice) pair index of each scored token, in the test split's order
            first_pair = np.cumsum([0] + [len(q.choices) for q in test])
            pair_of = torch.tensor([first_pair[i] + c for i in indices for c in range(len(test[i].choices))])
            self.test_batches.append((self._on_device(batch.input_ids, batch.attention_mask, batch.position_ids,
                                                      batch.rows, batch.from_positions, batch.targets),
                                      pair_of[batch.choice_index]))
        self.pairs = int(sum(len(q.choices) for q in test))

    def _on_device(self, *tensors):
        return tuple(None if t is None else t.to(self.device) for t in tensors)

    @torch.no_grad()
    def validation_loss(self, model) -> float:
        total, tokens = 0.0, 0
        for input_ids, attention_mask, _, rows, positions, targets in self.validation_batches:
            log_probs = token_log_probs(model, input_ids, attention_mask, None, rows, positions, targets)
            total, tokens = total - float(log_probs.double().sum()), tokens + len(targets)
        return total / tokens

    @torch.no_grad()
    def validation_losses(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Per validation question, in the split's order: its answer tokens' summed cross entropy and their count."""
        sums = torch.zeros(self.validation_count, dtype=torch.float64)
        counts = torch.zeros(self.validation_count, dtype=torch.int64)
        for (input_ids, attention_mask, _, rows, positions, targets), questions in zip(self.validation_batches,
                                                                                      self.validation_questions):
            log_probs = token_log_probs(model, input_ids, attention_mask, None, rows, positions, targets)
            question = questions[rows.cpu()]
            sums.index_add_(0, question, -log_probs.double().cpu())
            counts.index_add_(0, question, torch.ones_like(question))
        return sums.numpy(), counts.numpy()

    @torch.no_grad()
    def choice_log_likelihoods(self, model) -> list[np.ndarray]:
        """Per test question, the summed log-probability of each of its choices."""
        per_pair = torch.zeros(self.pairs, dtype=torch.float64)
        for tensors, pair_of_token in self.test_batches:
            per_pair.index_add_(0, pair_of_token, token_log_probs(model, *tensors).double().cpu())
        bounds = np.cumsum([0] + [len(q.choices) for q in self.test])
        values = per_pair.numpy()
        return [values[bounds[i]:bounds[i + 1]].copy() for i in range(len(self.test))]

    def evaluate(self, model, halves: bool = False) -> dict[str, float]:
        """The three numbers a LoRA's labels carry (and the base's); with `halves`, each also on
        the even- and odd-indexed questions (<label>_even, <label>_odd)."""
        scores = self.choice_log_likelihoods(model)
        accuracy = arc_accuracy(scores, self.test)
        if not halves:
            return {"val_loss": self.validation_loss(model), "arc_c_accuracy": accuracy["accuracy"],
                    "arc_c_accuracy_norm": accuracy["accuracy_norm"]}
        sums, counts = self.validation_losses(model)
        numbers = {"val_loss": float(sums.sum() / counts.sum()), "arc_c_accuracy": accuracy["accuracy"],
                   "arc_c_accuracy_norm": accuracy["accuracy_norm"]}
        for half, start in (("even", 0), ("odd", 1)):
            part = arc_accuracy(scores[start::2], self.test[start::2])
            numbers[f"val_loss_{half}"] = float(sums[start::2].sum() / counts[start::2].sum())
            numbers[f"arc_c_accuracy_{half}"] = part["accuracy"]
            numbers[f"arc_c_accuracy_norm_{half}"] = part["accuracy_norm"]
        return numbers


def arc_accuracy(scores: list[np.ndarray], questions: list[EncodedQuestion]) -> dict[str, float]:
    answers = np.array([q.answer for q in questions])
    plain = np.array([int(np.argmax(s)) for s in scores])
    normalised = np.array([int(np.argmax(s / np.array(q.choice_chars))) for s, q in zip(scores, questions)])
    return {"accuracy": float((plain == answers).mean()), "accuracy_norm": float((normalised == answers).mean())}
