"""Where, in what precision and how loudly a job runs (every stage): the device, the zoo's
training precision, and a progress bar that is quiet in CI and logs.

Precision (a zoo's `precision`, lolzoo.config.kinds.PRECISIONS) is mixed precision the standard
way: "fp32" changes nothing; "fp16" and "bf16" cast the frozen base weights to that dtype and
run the forward under torch.autocast, while the trained LoRA factors (and their optimiser state)
stay float32. fp16 needs loss scaling (torch.amp.GradScaler, or the per-LoRA scaler of a diffusion
shard, lolzoo.diffusion.batched_lora.BatchedGradScaler); bf16 has float32's range and needs none.
Both run on a CPU too: bf16 at about float32's speed, fp16 correctly but slowly (most CPUs have no
fast float16 matrix multiply), so a job in fp16 on a CPU says so in its log.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch

HALF_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device() -> torch.device:
    """CUDA when the job can see a GPU (Snakemake assigns none: the job looks), else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def weight_dtype(precision: str) -> torch.dtype | None:
    """The dtype the frozen base weights are cast to: None for fp32 (the base stays as loaded)."""
    if precision == "fp32":
        return None
    if precision not in HALF_DTYPES:
        raise ValueError(f"precision {precision!r} is not one of fp32, {', '.join(HALF_DTYPES)}")
    return HALF_DTYPES[precision]


def autocast(device: torch.device, precision: str):
    """torch.autocast in the precision's half dtype; for fp32 no context at all (bit for bit as before)."""
    dtype = weight_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def needs_loss_scaling(precision: str) -> bool:
    """fp16's 5-bit exponent underflows small gradients without a loss scale; bf16's does not."""
    return precision == "fp16"


def precision_note(device: torch.device, precision: str) -> str | None:
    """A line for the job's log when the precision is a poor fit for the device, else None."""
    if precision == "fp16" and device.type == "cpu":
        return ("note: the zoo's precision (zoos.<zoo>.precision) is fp16 on a CPU: it runs, but float16 matrix "
                "products are slow on most CPUs; bf16 is a CPU's fast half precision, fp32 the default")
    return None


def log_precision_note(device: torch.device, precision: str) -> None:
    """Print precision_note to the job's log, when there is one."""
    note = precision_note(device, precision)
    if note:
        print(note, flush=True)


def progress_enabled() -> bool:
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


def progress(total: int, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not progress_enabled(), leave=False)


def quiet_library_progress() -> None:
    """diffusers' and transformers' loading bars flood job logs; keep them only on a terminal."""
    if not progress_enabled():
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
