"""Where and how loudly a job runs (every stage): the device, and a progress bar that is quiet in CI and logs."""

from __future__ import annotations

import os
import sys

import torch


def pick_device() -> torch.device:
    """CUDA when the job can see a GPU (Snakemake assigns none: the job looks), else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
