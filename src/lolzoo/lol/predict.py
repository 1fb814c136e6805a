"""One LoRA file or folder through a trained model: match its modules to the trained layout,
turn it into a one-row LoraBatch as load_zoo would (α/r folded into U, ranks zero-padded),
and describe the output in label units.

Modules are matched by LoraModule.key (format-independent: a kohya file matches a PEFT-trained
layout), and each must have the trained (n, m).  A LoRA of lower rank is zero-padded to the
trained rank (exact: zero columns add nothing to U Vᵀ); a higher rank goes to the model as is,
and a model whose input size is fixed by the rank refuses it with its own message.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from lolzoo.errors import LolzooError
from lolzoo.lol.artifacts import TrainedModel
from lolzoo.lol.base import LoraBatch
from lolzoo.lora.types import Lora

SHOWN = 5  # mismatching module keys listed per kind of problem


class LayoutMismatch(LolzooError):
    """A LoRA that the trained model cannot read; the message lists what does not match."""


def layout_problems(trained: TrainedModel, shapes: dict[str, tuple[int, int]]) -> str | None:
    """What keeps LoRAs with these module keys -> (out, in) shapes from the trained layout, or None."""
    expected = {spec.key: (spec.n, spec.m) for spec in trained.modules}
    missing = [key for key in expected if key not in shapes]
    unexpected = [key for key in shapes if key not in expected]
    wrong_shape = [f"{key} is {shapes[key][0]}x{shapes[key][1]}, trained {n}x{m}"
                   for key, (n, m) in expected.items() if key in shapes and shapes[key] != (n, m)]
    problems = [f"{label} ({len(items)}): {'; '.join(items[:SHOWN])}{' ...' if len(items) > SHOWN else ''}"
                for label, items in (("missing modules", missing), ("modules not in the trained layout", unexpected),
                                     ("shapes differ", wrong_shape)) if items]
    if not problems:
        return None
    return (f"does not match the trained layout ({len(expected)} modules of zoo "
            f"{trained.info.get('zoo', {}).get('name', '?')!r}): " + " | ".join(problems))


def lora_batch(lora: Lora, trained: TrainedModel) -> LoraBatch:
    """The LoRA as a batch of one, in the trained module order; raises LayoutMismatch."""
    by_key = {module.key: module for module in lora.modules}
    problems = layout_problems(trained, {key: (m.out_features, m.in_features) for key, m in by_key.items()})
    if problems:
        raise LayoutMismatch(problems)
    expected = [spec.key for spec in trained.modules]
    modules = [by_key[key] for key in expected]
    rank = max(trained.rank, max(m.rank for m in modules))
    U = [pad_rank(m.U.to(torch.float32) * m.scale, rank) for m in modules]  # α/r folded, as load_zoo does
    V = [pad_rank(m.V.to(torch.float32), rank) for m in modules]
    return LoraBatch([u.unsqueeze(0) for u in U], [v.unsqueeze(0) for v in V])


def predict_lora(lora: Lora, trained: TrainedModel):
    """The JSON-able prediction of one LoRA (see Task.describe); raises LayoutMismatch."""
    batch = lora_batch(lora, trained)
    try:
        with torch.no_grad():
            outputs = trained.model(batch)
    except ValueError as err:  # the model's own input checks, e.g. a rank it cannot take
        raise LayoutMismatch(str(err)) from err
    return trained.task.describe(outputs)[0]


def pad_rank(factor: torch.Tensor, rank: int) -> torch.Tensor:
    """Zero columns up to `rank` (the last axis): ΔW = U Vᵀ is unchanged."""
    return F.pad(factor, (0, rank - factor.shape[-1]))
