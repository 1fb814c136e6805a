"""The canonical LoRA: an ordered list of adapted modules, each a (U, V) pair.

For an adapted matrix W (n x m) a LoRA stores B (n x r) and A (r x m) with
ΔW = (alpha / r) * B @ A.  We keep U = B and V = Aᵀ, so ΔW = scale * U @ Vᵀ and
(U g, V g^{-T}) is the same LoRA for every invertible g in GL(r).

A convolution LoRA (down weight r x c_in x k1 x k2, up weight c_out x r x 1 x 1) is the
same object with V flattened to (c_in*k1*k2) x r; `conv_kernel` keeps (k1, k2) so writers
can restore the 4-D layout.

A DoRA module (peft's use_dora=True) also carries its magnitude vector m (one entry per output
feature): the adapted weight is m * (W + ΔW) / ||W + ΔW|| row by row. m does not depend on how
ΔW is factored, so it is GL(r)-invariant and travels unchanged through (U g, V g^{-T}).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import torch

from lolzoo.errors import LolzooError

# Components of a multi-model adapter (diffusers pipelines); "" is a single-model PEFT adapter.
KNOWN_COMPONENTS = ("unet", "transformer", "text_encoder", "text_encoder_2")


class LoraFormatError(LolzooError):
    """A LoRA that cannot be read, or written in the asked format; the message names path and problem."""


@dataclass(frozen=True)
class LoraModule:
    """One adapted matrix: ΔW = scale * U @ V.T with U = B (n x r), V = Aᵀ (m x r)."""

    component: str  # "unet", "text_encoder", ... or "" for a single-model adapter
    path: str  # dotted module path inside the component, e.g. "model.layers.0.self_attn.k_proj"
    U: torch.Tensor
    V: torch.Tensor
    alpha: float | None = None  # None: no alpha stored, scale is 1
    conv_kernel: tuple[int, ...] | None = None  # None: a linear layer; (k1, k2): V rows are (c_in, k1, k2)
    magnitude: torch.Tensor | None = None  # DoRA: (n,), the norm of every output row of the adapted weight

    def __post_init__(self):
        if self.U.ndim != 2 or self.V.ndim != 2:
            raise LoraFormatError(f"{self.name}: U and V must be matrices, got shapes "
                                  f"{tuple(self.U.shape)} and {tuple(self.V.shape)}")
        if self.U.shape[1] != self.V.shape[1]:
            raise LoraFormatError(f"{self.name}: mismatched ranks inside the pair: "
                                  f"B has rank {self.U.shape[1]}, A has rank {self.V.shape[1]}")
        if self.conv_kernel is not None:
            kernel = tuple(int(k) for k in self.conv_kernel)
            if not kernel or min(kernel) < 1 or self.V.shape[0] % math.prod(kernel):
                raise LoraFormatError(f"{self.name}: conv kernel {kernel} does not divide the "
                                      f"{self.V.shape[0]} input features of V")
            object.__setattr__(self, "conv_kernel", kernel)
        if self.magnitude is not None:
            if self.magnitude.numel() != self.U.shape[0]:
                raise LoraFormatError(f"{self.name}: DoRA magnitude vector has {self.magnitude.numel()} entries "
                                      f"{tuple(self.magnitude.shape)}, the module has {self.U.shape[0]} outputs")
            object.__setattr__(self, "magnitude", self.magnitude.reshape(-1))

    @property
    def name(self) -> str:
        return f"{self.component}.{self.path}" if self.component else self.path

    @property
    def key(self) -> str:
        """Format-independent key: kohya files replace dots by underscores, so we compare that way."""
        return module_key(self.component, self.path)

    @property
    def rank(self) -> int:
        return int(self.U.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.U.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.V.shape[0])

    @property
    def scale(self) -> float:
        return 1.0 if self.alpha is None else float(self.alpha) / self.rank

    def delta(self) -> torch.Tensor:
        """The weight update ΔW (n x m); costly for big modules, meant for tests and small models."""
        return self.scale * (self.U @ self.V.T)


def module_key(component: str, path: str) -> str:
    flat = re.sub(r"[.\-]", "_", path)
    return f"{component}_{flat}" if component else flat


def natural_sort_key(name: str):
    """Sort 'layers.10' after 'layers.9'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@dataclass
class Lora:
    """A whole adapter: modules in canonical (natural-sorted) order plus where it came from."""

    modules: list[LoraModule]
    source_format: str = "unknown"  # "peft", "diffusers", "kohya"
    base_model: str | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.modules:
            raise LoraFormatError("a LoRA needs at least one module")
        self.modules = sorted(self.modules, key=lambda m: natural_sort_key(m.name))
        names = [m.name for m in self.modules]
        if len(set(names)) != len(names):
            raise LoraFormatError("a LoRA lists the same module twice")
        plain = [m.name for m in self.modules if m.magnitude is None]
        if plain and len(plain) < len(self.modules):  # peft decomposes every target or none
            raise LoraFormatError(f"a DoRA adapter needs a magnitude vector for every module; "
                                  f"{len(plain)} have none, e.g. {plain[0]}")

    @property
    def is_dora(self) -> bool:
        return self.modules[0].magnitude is not None

    @property
    def rank(self) -> int:
        """The largest module rank (PEFT's rank_pattern may give modules different ranks)."""
        return max(m.rank for m in self.modules)

    @property
    def num_parameters(self) -> int:
        return sum(m.U.numel() + m.V.numel() for m in self.modules)

    def check_finite(self) -> None:
        for m in self.modules:
            for label, t in (("B (U)", m.U), ("A (V)", m.V), ("the DoRA magnitude vector", m.magnitude)):
                if t is not None and not torch.isfinite(t).all():
                    bad = int((~torch.isfinite(t)).sum())
                    raise LoraFormatError(f"{m.name}: {bad} non-finite (NaN/Inf) values in {label}")
            if m.alpha is not None and not math.isfinite(m.alpha):
                raise LoraFormatError(f"{m.name}: alpha is not finite ({m.alpha})")

    def without_magnitudes(self) -> "Lora":
        """The low-rank part only (a DoRA adapter read as a plain LoRA)."""
        return Lora([replace(m, magnitude=None) for m in self.modules], self.source_format, self.base_model,
                    dict(self.metadata))

    def transformed(self, g: torch.Tensor) -> "Lora":
        """The same LoRA re-parametrised as (U g, V g^{-T}) (one g for every module of one rank);
        DoRA magnitudes are kept as they are: they do not depend on the factorisation."""
        g_inv_t = torch.linalg.inv(g).T
        mods = [replace(m, U=m.U @ g.to(m.U.dtype), V=m.V @ g_inv_t.to(m.V.dtype)) for m in self.modules]
        return Lora(mods, self.source_format, self.base_model, dict(self.metadata))
