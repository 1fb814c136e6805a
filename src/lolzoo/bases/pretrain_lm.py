"""Brief causal-LM pretraining of a tiny language base on the ARC train split's text, so that
the language zoo's LoRAs finetune a model that already models the language.

The texts (lolzoo.bases.tiny_qwen2.pretraining_texts: answered questions in the shared prompt
format, then wrong choices as plain text) are tokenized, joined with EOS and cut into blocks
of `block` tokens. AdamW, linear warm-up, then cosine decay over a step budget (constant after
warm-up under a time-only budget). Batch order is a pure function of the seed.

The yardstick is the unigram cross-entropy: a model that only learnt token frequencies
scores that on the validation text; a base that models the language is well below it.
"""

from __future__ import annotations

import math

import torch

from lolzoo.bases.epoch_batches import epoch_batches
from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_loop import train_within_budget

BLOCK = 64
BATCH = 32
LEARNING_RATE = 3e-3
WARMUP = 20


def token_blocks(tokenizer, texts: list[str], block: int = BLOCK) -> torch.Tensor:
    """(n, block) token ids: the texts joined by EOS, cut into whole blocks (the tail is dropped
    unless it is the only block, which is then EOS-padded)."""
    ids: list[int] = []
    for encoded in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        ids.append(tokenizer.eos_token_id)
    if len(ids) < block:
        ids += [tokenizer.eos_token_id] * (block - len(ids))
    whole = len(ids) // block
    return torch.tensor(ids[:whole * block], dtype=torch.long).view(whole, block)


def unigram_cross_entropy(train: torch.Tensor, validation: torch.Tensor, vocab_size: int) -> float:
    """Nats per token of the validation blocks under the train blocks' (add-one) unigram model."""
    counts = torch.bincount(train.flatten(), minlength=vocab_size).double() + 1.0
    log_p = (counts / counts.sum()).log()
    return float(-log_p[validation.flatten()].mean())


def _learning_rate(step: int, budget: Budget, peak: float) -> float:
    if step < WARMUP:
        return peak * (step + 1) / WARMUP
    if budget.steps is None or budget.steps <= WARMUP:
        return peak
    progress = (step - WARMUP) / max(1, budget.steps - WARMUP)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def train_causal_lm(model, blocks: torch.Tensor, budget: Budget, seed: int = 0, batch_size: int = BATCH,
                    learning_rate: float = LEARNING_RATE, log_every: int = 0) -> list[float]:
    """Next-token training on the blocks within the budget; returns the loss of every step."""
    def batch_loss(index: torch.Tensor) -> torch.Tensor:
        batch = blocks[index]
        return model(input_ids=batch, labels=batch).loss

    batches = epoch_batches(len(blocks), batch_size, torch.Generator().manual_seed(seed))
    losses = train_within_budget(model, batches, batch_loss, budget, name="lm", learning_rate=learning_rate,
                                 weight_decay=0.01, betas=(0.9, 0.95),
                                 learning_rate_at=lambda step: _learning_rate(step, budget, learning_rate),
                                 clip_norm=1.0, log_every=log_every)
    return [round(loss, 5) for loss in losses]  # base.json and the losses file keep 5 decimals


@torch.no_grad()
def mean_loss(model, blocks: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token loss (nats per token) over the blocks."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        batch = blocks[start:start + batch_size]
        tokens = batch.numel() - len(batch)  # every position but the first predicts one
        total += float(model(input_ids=batch, labels=batch).loss) * tokens
        count += tokens
    return total / max(count, 1)
