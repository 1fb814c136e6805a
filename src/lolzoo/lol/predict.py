"""One LoRA file or folder through a trained model: match its modules to the trained layout,
turn it into a one-row LoraBatch as load_zoo would (α/r folded into U, ranks zero-padded),
and describe the output in label units.

Modules are matched by LoraModule.key (format-independent: a kohya file matches a PEFT-trained
layout), and each must have the trained (n, m).  A whole component the trained layout does not
use at all (a text encoder's LoRA next to a UNet-only layout) is dropped with a notice; any
other module missing, extra or of another shape refuses the LoRA with the list.

Rank, one rule (`rank_problem`): MLP and O-Align read U and V themselves, so the trained rank
fixes their input size; they take that rank only (zero-padding a lower rank would feed them
inputs they never saw in training).  SVD, Dense and GL-net take any rank; a lower rank is
zero-padded to the trained rank (exact: zero columns add nothing to U Vᵀ), as load_zoo pads a
mixed-rank zoo.

DoRA (magnitude vectors beside the low-rank pair): a model trained on a DoRA zoo takes them and
refuses a plain LoRA; a model trained on plain LoRAs scores a DoRA adapter's low-rank part
only, with a notice.

Base, one rule (`base_problem`): a LoRA that declares its base (PEFT's base_model_name_or_path,
diffusers' adapter metadata, kohya's lolzoo_base_model) is refused when the model's zoo records
another base; a declared local path says where a base was, not which, and is not compared;
`any_base` scores it anyway, with a notice (a sibling base, knowingly).

`lora_batch` and `predict_lora` return notices beside their result: plain sentences about what
was changed or assumed to score this LoRA, printed by `lolzoo predict`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.nn import functional as F

from lolzoo.errors import LolzooError
from lolzoo.lol.artifacts import TrainedModel
from lolzoo.lol.base import LoraBatch
from lolzoo.lora.types import Lora, LoraModule

SHOWN = 5  # mismatching module keys listed per kind of problem


class LayoutMismatch(LolzooError):
    """A LoRA that the trained model cannot read; the message lists what does not match."""


class PreparedLora(NamedTuple):
    batch: LoraBatch  # one row, in the trained module order
    notices: list[str]


class Prediction(NamedTuple):
    value: Any  # JSON-able, in label units (see Task.describe)
    notices: list[str]


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


def rank_problem(trained: TrainedModel, ranks: set[int]) -> str | None:
    """Why a model cannot take a LoRA whose modules have these ranks, or None."""
    if trained.model.rank_agnostic or ranks == {trained.rank}:  # LoLModel.rank_agnostic: MLP, O-Align False
        return None
    kind = trained.model.kind
    return (f"rank {'/'.join(map(str, sorted(ranks)))}, but the {kind} model takes rank {trained.rank} only: "
            f"its input size is fixed by the rank of its zoo, and zero-padding a lower rank would feed it "
            f"inputs it never saw in training; score it with a rank-agnostic model (glnet, dense, svd)")


def base_problem(trained: TrainedModel, declared: str | None) -> str | None:
    """Why a LoRA declaring base `declared` is not one the model was trained for, or None
    (same base, or either side unknown or only a location)."""
    zoo = trained.info.get("zoo", {})
    trained_base = zoo.get("base_model")
    if not declared or not trained_base or trained_base == "unknown" or is_location(declared) \
            or is_location(trained_base) or _same_name(declared, trained_base):
        return None
    digest = ((zoo.get("provenance") or {}).get("base") or {}).get("sha256")
    held = f" (weights sha256 {digest[:12]})" if digest else ""
    return (f"declares base {declared!r}, but the model was trained on LoRAs of {trained_base!r}{held}; "
            f"its scores are not known to hold for another base (--any-base scores it anyway)")


def is_location(name: str) -> bool:
    """A base named by where it lay (results/bases/lm, /models/sd) rather than by a hub name."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name or Path(name).is_absolute()


def _same_name(a: str, b: str) -> bool:
    return a.strip().strip("/").lower() == b.strip().strip("/").lower()


def unused_components(trained: TrainedModel, modules: list[LoraModule]) -> dict[str, int]:
    """Components of the LoRA (e.g. text_encoder) of which the trained layout has no module at all,
    with their module counts.  Trained module names are `component.path`."""
    counts = Counter(module.component for module in modules if module.component)
    return {component: count for component, count in counts.items()
            if not any(spec.name.startswith(component + ".") for spec in trained.modules)}


def lora_batch(lora: Lora, trained: TrainedModel, any_base: bool = False) -> PreparedLora:
    """The LoRA as a batch of one, in the trained module order, and its notices; raises LayoutMismatch."""
    notices = []
    problem = base_problem(trained, lora.base_model)
    if problem and not any_base:
        raise LayoutMismatch(problem)
    if problem:
        notices.append(problem.replace(" (--any-base scores it anyway)", "; scored anyway (--any-base)"))
    dropped = unused_components(trained, lora.modules)
    if dropped:
        notices.append("dropped " + ", ".join(f"{component} ({count} modules)" for component, count in dropped.items())
                       + ": the trained layout does not use that component")
    by_key = {module.key: module for module in lora.modules if module.component not in dropped}
    problems = layout_problems(trained, {key: (m.out_features, m.in_features) for key, m in by_key.items()})
    if problems:
        raise LayoutMismatch(problems)
    modules = [by_key[spec.key] for spec in trained.modules]
    ranks = {m.rank for m in modules}
    problem = rank_problem(trained, ranks)
    if problem:
        raise LayoutMismatch(problem)
    if ranks != {trained.rank}:
        notices.append(f"rank {'/'.join(map(str, sorted(ranks)))}, not the trained zoo's {trained.rank}: "
                       f"scored anyway ({trained.model.kind} takes any rank)")
    magnitudes, dora_notice = dora_magnitudes(lora, modules, trained)
    notices += [dora_notice] if dora_notice else []
    rank = max(trained.rank, *ranks)
    U = [pad_rank(m.U.to(torch.float32) * m.scale, rank) for m in modules]  # α/r folded, as load_zoo does
    V = [pad_rank(m.V.to(torch.float32), rank) for m in modules]
    return PreparedLora(LoraBatch([u.unsqueeze(0) for u in U], [v.unsqueeze(0) for v in V], magnitudes), notices)


def dora_magnitudes(lora: Lora, modules: list[LoraModule], trained: TrainedModel
                    ) -> tuple[list[torch.Tensor] | None, str | None]:
    """The magnitude rows the model reads (None for a plain-LoRA model) and a notice; raises
    LayoutMismatch for a plain LoRA under a model trained on DoRA adapters."""
    kind = trained.model.kind
    if trained.model.magnitudes:
        if not lora.is_dora:
            raise LayoutMismatch(f"a plain LoRA, but the {kind} model was trained on DoRA adapters and reads "
                                 "each module's magnitude vector beside U and V")
        return [m.magnitude.to(torch.float32).unsqueeze(0) for m in modules], None
    if lora.is_dora:
        return None, (f"a DoRA adapter: scored its low-rank part only (the {kind} model was trained on plain "
                      "LoRAs; its magnitude vectors are not read)")
    return None, None


def predict_lora(lora: Lora, trained: TrainedModel, any_base: bool = False) -> Prediction:
    """The JSON-able prediction of one LoRA (see Task.describe) and its notices; raises LayoutMismatch."""
    batch, notices = lora_batch(lora, trained, any_base)
    try:
        with torch.no_grad():
            outputs = trained.model(batch)
    except ValueError as err:  # the model's own input checks
        raise LayoutMismatch(str(err)) from err
    return Prediction(trained.task.describe(outputs)[0], notices)


def pad_rank(factor: torch.Tensor, rank: int) -> torch.Tensor:
    """Zero columns up to `rank` (the last axis): ΔW = U Vᵀ is unchanged."""
    return F.pad(factor, (0, rank - factor.shape[-1]))
