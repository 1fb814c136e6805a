"""The loop every pretraining shares: AdamW over a module's parameters, one batch per step
until the budget runs out, every step's loss kept and printed every `log_every` steps.

What differs between the VAE, UNet, CLIP and LM is passed in: the batches, the loss of one
batch, the optimizer's settings, a learning-rate schedule, gradient clipping and what follows
each step (CLIP clamps its temperature, the UNet updates its EMA). The loop draws no random
numbers itself and takes the next batch only when its step starts, so the draws from a loop's
seeded generator happen in the same order as its steps and a step budget gives the same
weights for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from lolzoo.bases.pretrain_budget import Budget


def train_within_budget(module: torch.nn.Module, batches: Iterator[Any], batch_loss: Callable[[Any], torch.Tensor],
                        budget: Budget, *, name: str, learning_rate: float, weight_decay: float,
                        betas: tuple[float, float] = (0.9, 0.999),
                        learning_rate_at: Callable[[int], float] | None = None, clip_norm: float | None = None,
                        after_step: Callable[[], None] | None = None, log_every: int = 0) -> list[float]:
    """Train `module` in place on `batch_loss(next(batches))` per step; returns every step's loss.

    `learning_rate_at(step)` (0-based) sets the rate of each step (`learning_rate` throughout
    without it); `clip_norm` clips the gradients' total norm. The module is in train mode while
    the loop runs and in eval mode after it.
    """
    parameters = list(module.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, betas=betas, weight_decay=weight_decay)
    module.train()
    losses: list[float] = []
    budget.start()
    while budget.allows(len(losses)):
        if learning_rate_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(len(losses))
        loss = batch_loss(next(batches))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()
        if after_step is not None:
            after_step()
        losses.append(loss.item())
        if log_every and len(losses) % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every  # one step's loss is too noisy to follow
            print(f"{name} step {len(losses)}: loss {recent:.4f} ({budget.elapsed():.0f} s)", flush=True)
    module.eval()
    return losses
