"""Small in-memory LoRAs and label frames for the zoo tests (a unique module name: tests/*/conftest.py clash)."""

from __future__ import annotations

import pandas as pd
import torch

from lolzoo.lora.types import Lora, LoraModule

LAYOUT = [("unet", "down.0.attn.to_q", 6, 5), ("unet", "down.0.attn.to_v", 6, 9), ("text_encoder", "layers.1.q", 4, 4)]


def make_lora(seed: int, rank: int | list[int] = 3, alpha: float | None = None, layout=LAYOUT) -> Lora:
    """A random LoRA; `rank` may give one rank per module (PEFT's rank_pattern)."""
    g = torch.Generator().manual_seed(seed)
    ranks = rank if isinstance(rank, list) else [rank] * len(layout)
    modules = [LoraModule(component, path, torch.randn(n, r, generator=g), torch.randn(m, r, generator=g), alpha)
               for (component, path, n, m), r in zip(layout, ranks)]
    return Lora(modules, source_format="peft", base_model="tiny-base")


def labels_for(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "lora_id": ids,
        "score": [float(i) / 2 for i in range(len(ids))],
        "is_big": [i % 2 == 0 for i in range(len(ids))],
        "kind": [f"k{i % 3}" for i in range(len(ids))],
    })
