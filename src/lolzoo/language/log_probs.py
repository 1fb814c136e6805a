"""Log-probabilities of chosen tokens, with the output layer applied only where they are needed.

A tiny LM's output layer (vocabulary × hidden) costs as much as its transformer blocks, and
most positions of a batch (prompts, padding) predict nothing we score or train on; so the
decoder runs on every position and the output layer only on the positions that predict a
target token. Works for any transformers causal LM and for a PeftModel around one (its LoRA
layers sit inside the decoder).
"""

from __future__ import annotations

import torch

from lolzoo.language.encoding import IGNORE, at_least_float32


def token_log_probs(model, input_ids, attention_mask, position_ids, rows, from_positions, targets) -> torch.Tensor:
    """log p(targets[k]) predicted at (rows[k], from_positions[k]), one value per target."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask,
                                     position_ids=position_ids).last_hidden_state
    logits = at_least_float32(causal_lm.get_output_embeddings()(hidden[rows, from_positions]))
    return logits.log_softmax(-1).gather(1, targets[:, None])[:, 0]


def answer_targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, positions, targets) of a training batch's answer tokens: position p predicts p + 1."""
    rows, positions = (labels[:, 1:] != IGNORE).nonzero(as_tuple=True)
    return rows, positions, labels[rows, positions + 1]
