"""Random LoRA batches and fitted models for the LoL model tests (fresh draws every run)."""

from __future__ import annotations

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.registry import build_model


# Different shapes, a repeated shape, and a module with fewer rows (2) than the rank.
SHAPES = [(6, 5), (4, 7), (6, 5), (2, 5)]
RANK = 3
INVARIANT_KINDS = ("svd", "dense", "glnet")


def random_lora_batch(size: int, rank: int = RANK, shapes=SHAPES, dtype=torch.float64,
                      dora: bool = False) -> LoraBatch:
    """Gaussian U, V with a different scale per module (GL-net's input scaling has work to do);
    dora=True adds positive magnitude vectors around the base's row norms (here 1 + noise)."""
    scales = [0.1 * (k + 1) for k in range(len(shapes))]
    magnitudes = [1 + 0.1 * torch.randn(size, n, dtype=dtype) for n, _ in shapes] if dora else None
    return LoraBatch([torch.randn(size, n, rank, dtype=dtype) * s for (n, _), s in zip(shapes, scales)],
                     [torch.randn(size, m, rank, dtype=dtype) for _, m in shapes], magnitudes)


def zero_pad_rank(batch: LoraBatch, extra: int) -> LoraBatch:
    """The same LoRAs with `extra` zero rank columns: ΔW unchanged."""
    pad = lambda t: torch.cat([t, t.new_zeros(*t.shape[:-1], extra)], dim=-1)  # noqa: E731
    return LoraBatch([pad(u) for u in batch.U], [pad(v) for v in batch.V])


def fitted_model(kind: str, dtype=torch.float64, out_dim: int = 2, train_size: int = 24, dora: bool = False,
                 **hparams):
    """A model of `kind` on SHAPES / RANK, preprocessing fitted on a random training batch, in eval mode;
    dora=True: a model that takes DoRA magnitudes, fitted on DoRA adapters."""
    model = build_model(kind, SHAPES, RANK, out_dim, magnitudes=dora, **hparams).to(dtype)
    model.fit_preprocessing(random_lora_batch(train_size, dtype=dtype, dora=dora))
    return model.eval()
