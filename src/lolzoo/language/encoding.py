"""ARC questions as token tensors: training batches (loss on the answer only) and scoring
batches (every choice of a question after one shared copy of its prompt).

Prompt and continuation are tokenised apart and concatenated, so a choice's tokens are the
same whichever batch it lands in. A scoring row is prompt + choice 1 + choice 2 + ...; a 4-D
attention mask lets each choice see the prompt and its own earlier tokens only, and position
ids restart after the prompt for every choice, so each choice is scored exactly as if it
followed the prompt alone, while the prompt is computed once instead of once per choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lolzoo.data.arc_questions import ArcQuestion, continuation, prompt
from lolzoo.errors import LolzooError

IGNORE = -100  # label of tokens the loss skips (prompt and padding), as transformers uses it


@dataclass(frozen=True)
class EncodedQuestion:
    prompt: tuple[int, ...]
    choices: tuple[tuple[int, ...], ...]
    answer: int
    choice_chars: tuple[int, ...]  # characters of each continuation: the length normalisation

    @property
    def correct(self) -> tuple[int, ...]:
        return self.choices[self.answer]


def encode(tokenizer, questions: list[ArcQuestion], max_length: int) -> list[EncodedQuestion]:
    """Token ids of every prompt and choice; a prompt too long for `max_length` with its choices
    keeps its end (the question's last words and "Answer:")."""
    encoded = []
    for question in questions:
        choice_texts = [continuation(c) for c in question.choices]
        choices = tuple(tuple(tokenizer.encode(t, add_special_tokens=False)) for t in choice_texts)
        if any(not ids for ids in choices):
            raise LolzooError(f"ARC question {question.id}: a choice encodes to no tokens")
        room = max_length - sum(len(ids) for ids in choices)
        if room < 1:
            raise LolzooError(f"ARC question {question.id}: its choices alone need more than {max_length} tokens")
        prompt_ids = tuple(tokenizer.encode(prompt(question), add_special_tokens=False))[-room:]
        encoded.append(EncodedQuestion(prompt_ids, choices, question.answer, tuple(len(t) for t in choice_texts)))
    return encoded


def training_batch(questions: list[EncodedQuestion], pad_id: int) -> dict[str, torch.Tensor]:
    """Prompt + correct answer per row, right-padded; labels are IGNORE except on the answer."""
    rows = [(q.prompt + q.correct, len(q.prompt)) for q in questions]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for row, (ids, answer_from) in enumerate(rows):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        attention_mask[row, :len(ids)] = 1
        labels[row, answer_from:len(ids)] = torch.tensor(ids[answer_from:])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def at_least_float32(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits (a GPU run) are promoted before softmax; float64 stays float64."""
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


@dataclass
class ScoringBatch:
    input_ids: torch.Tensor       # (rows, width)
    attention_mask: torch.Tensor  # (rows, 1, width, width) bool: who each position may attend to
    position_ids: torch.Tensor    # (rows, width)
    # per scored token: its row, the position whose logits predict it, its id, and its choice
    rows: torch.Tensor
    from_positions: torch.Tensor
    targets: torch.Tensor
    choice_index: torch.Tensor    # index into the flat list of (question, choice) pairs


def scoring_batch(questions: list[EncodedQuestion], pad_id: int) -> ScoringBatch:
    widths = [len(q.prompt) + sum(len(c) for c in q.choices) for q in questions]
    width = max(widths)
    input_ids = torch.full((len(questions), width), pad_id, dtype=torch.long)
    allowed = torch.zeros((len(questions), width, width), dtype=torch.bool)
    positions = torch.zeros((len(questions), width), dtype=torch.long)
    rows, from_positions, targets, choice_index = [], [], [], []
    pair = 0
    for row, question in enumerate(questions):
        n = len(question.prompt)
        input_ids[row, :n] = torch.tensor(question.prompt)
        allowed[row, :n, :n] = torch.ones(n, n, dtype=torch.bool).tril()
        positions[row, :n] = torch.arange(n)
        start = n
        for choice in question.choices:
            k = len(choice)
            span = slice(start, start + k)
            input_ids[row, span] = torch.tensor(choice)
            allowed[row, span, :n] = True
            allowed[row, span, span] = torch.ones(k, k, dtype=torch.bool).tril()
            positions[row, span] = torch.arange(n, n + k)
            # the first choice token is predicted from the prompt's last position
            from_positions.extend([n - 1] + list(range(start, start + k - 1)))
            targets.extend(choice)
            rows.extend([row] * k)
            choice_index.extend([pair] * k)
            pair += 1
            start += k
        # padding attends to itself only (a row with nothing allowed would give NaN)
        pad = torch.arange(start, width)
        allowed[row, pad, pad] = True
    return ScoringBatch(input_ids, allowed[:, None], positions, torch.tensor(rows), torch.tensor(from_positions),
                        torch.tensor(targets), torch.tensor(choice_index))
