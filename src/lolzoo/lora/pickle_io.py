"""Pickle checkpoints (.bin, .pt, .pth, .ckpt): refused unless asked for, then loaded weights-only."""

from __future__ import annotations

from pathlib import Path

import torch

from lolzoo.lora.types import LoraFormatError
from lolzoo.lora.untrusted_files import open_regular_file

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


def read_pickle_state_dict(path: str | Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not allow_pickle:
        raise LoraFormatError(
            f"{path}: refusing to read a pickle file: unpickling can run arbitrary code. "
            "Convert it to .safetensors, or pass allow_pickle=True (CLI: --allow-pickle) if you "
            "trust it; it is then loaded with torch.load(weights_only=True)")
    with open_regular_file(path) as handle:  # a FIFO would make torch.load wait forever
        try:
            state = torch.load(handle, weights_only=True, map_location="cpu")
        except Exception as err:  # UnpicklingError, RuntimeError (zip), EOFError...: all mean "unreadable"
            raise LoraFormatError(f"{path}: cannot load pickle file with weights_only=True: "
                                  f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
    if not isinstance(state, dict):
        raise LoraFormatError(f"{path}: expected a state dict, the pickle holds a {type(state).__name__}")
    not_tensors = [k for k, v in state.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if not_tensors:
        raise LoraFormatError(f"{path}: expected a flat state dict of tensors; entries such as "
                              f"{not_tensors[:3]!r} are not tensors")
    if any(not t.is_floating_point() for t in state.values()):
        raise LoraFormatError(f"{path}: LoRA weights must be floating point")
    return state
