"""Stored (down, up) tensors <-> one canonical LoraModule, for linear and convolution layers.

Every format stores A ("down", r x in) and B ("up", out x r). Convolution LoRAs store
A as r x c_in x k1 x k2 and B as c_out x r x 1 x 1; we flatten A to r x (c_in*k1*k2), which
makes ΔW the flattened conv weight update, and keep (k1, k2) in `conv_kernel` so writing
restores the 4-D tensors bit for bit.
"""

from __future__ import annotations

import math

import torch

from lolzoo.lora.types import LoraFormatError, LoraModule

# A rank above both dimensions only wastes parameters (tiny test models have them), but a huge
# one on a 1x1 layer would make r x r work (Gram matrices) far larger than the file: capped.
SMALL_LAYER_MAX_RANK = 1024


def module_from_pair(component: str, path: str, down: torch.Tensor, up: torch.Tensor,
                     alpha: float | None, magnitude: torch.Tensor | None = None) -> LoraModule:
    name = f"{component}.{path}" if component else path
    shapes = f"A/down {tuple(down.shape)}, B/up {tuple(up.shape)}"
    if down.ndim < 2 or up.ndim < 2 or down.ndim != up.ndim:
        raise LoraFormatError(f"{name}: A and B must both be matrices or both be conv weights, got {shapes}")
    rank = down.shape[0]
    if up.shape[1] != rank:
        raise LoraFormatError(f"{name}: mismatched ranks inside the pair: {shapes}")
    if rank == 0:
        raise LoraFormatError(f"{name}: rank 0 ({shapes})")
    out_features, in_features = up.shape[0], math.prod(down.shape[1:])
    if out_features == 0 or in_features == 0:
        raise LoraFormatError(f"{name}: an empty factor: no output or input features ({shapes})")
    if rank > max(out_features, in_features, SMALL_LAYER_MAX_RANK):
        raise LoraFormatError(f"{name}: rank {rank} exceeds the {out_features} output and the {in_features} "
                              f"input features and {SMALL_LAYER_MAX_RANK} ({shapes}); no LoRA needs that")
    conv_kernel = None
    if down.ndim > 2:
        if any(size != 1 for size in up.shape[2:]):
            raise LoraFormatError(f"{name}: conv LoRA whose B/up kernel is not 1x1 is not supported ({shapes})")
        conv_kernel = tuple(down.shape[2:])
    dtype = torch.promote_types(down.dtype, up.dtype)
    U = up.reshape(up.shape[0], rank).to(dtype).contiguous()
    V = down.reshape(rank, -1).T.to(dtype).contiguous()
    if magnitude is not None:
        magnitude = magnitude.to(dtype).reshape(-1).contiguous()
    return LoraModule(component, path, U, V, alpha, conv_kernel, magnitude)


def pair_from_module(module: LoraModule) -> tuple[torch.Tensor, torch.Tensor]:
    """(down, up) = (A, B) in the layout files store, 4-D again for conv modules."""
    down = module.V.T.contiguous()
    up = module.U.contiguous()
    if module.conv_kernel is not None:
        kernel = module.conv_kernel
        down = down.reshape(module.rank, -1, *kernel)
        up = up.reshape(module.out_features, module.rank, *([1] * len(kernel)))
    return down, up
