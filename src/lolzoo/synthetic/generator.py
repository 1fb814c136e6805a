"""Synthetic LoRAs whose labels are known GL(r)-invariant functions of each ΔW = U Vᵀ.

Meant for testing LoL models in seconds: an invariant model can learn every label, and a
model that is not invariant is handicapped when `reparametrise` gives every LoRA its own
random g ∈ GL(r), i.e. stores (U g, V g^{-T}) instead of (U, V).

Each LoRA (deterministic from (seed, index), so LoRA i is the same whatever `count`):
  - takes a rank uniformly from `ranks` (one rank for all its modules),
  - per module k (n_k x m_k) draws a loudness s_k = exp(Uniform(-1, 1)), U with entries
    N(0, s_k²/r) and V with entries N(0, 1), so ||U_k V_kᵀ||_F ≈ s_k sqrt(n_k m_k) whatever r,
  - with `reparametrise`, stores (U g, V g^{-T}) for a random g = Q1 diag(e^{t}) Q2,
    t ~ Uniform(-1/2, 1/2)^r (condition number at most e), the same g for all its modules.

Labels, computed in float64 from the stored float32 weights (ΔW_k = (alpha/r) U_k V_kᵀ, so
alpha only rescales), with k the module's position in the zoo's module order:

  regression
    frob_norm_<k>       ||ΔW_k||_F
    frob_norm_total     sqrt(Σ_k ||ΔW_k||_F²)
    nuclear_norm        Σ_k ||ΔW_k||_*  (sum of singular values)
    linear_functional   Σ_k <C_k, ΔW_k>_F / sqrt(n_k m_k), with fixed C_k ~ N(0, 1)^{n_k x m_k}
                        drawn from FUNCTIONAL_SEED: the same functional for every zoo and seed
  multilabel (binary)
    positive_functional_<k>   <C_k, ΔW_k>_F > 0  (balanced: U -> -U flips the sign)
  multiclass
    dominant_module     argmax_k ||ΔW_k||_F / sqrt(n_k m_k): which module is loudest,
                        one class per module, balanced because the s_k are exchangeable

Every label depends on the LoRA only through its ΔW_k, hence is GL(r)-invariant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from lolzoo.lora.types import Lora, LoraModule

# (path, n, m) in the canonical (natural-sorted) order, so label index k is the module index.
DEFAULT_SHAPES: tuple[tuple[str, int, int], ...] = (
    ("blocks.0.attn.to_q", 16, 12),
    ("blocks.1.mlp.fc", 8, 20),
    ("blocks.2.attn.to_out", 24, 24),
)
FUNCTIONAL_SEED = 20250  # fixes the C_k of linear_functional across zoos
BASE_MODEL = "synthetic"


@dataclass(frozen=True)
class SyntheticZooSpec:
    count: int
    seed: int = 0
    ranks: tuple[int, ...] = (4,)  # each LoRA's rank is drawn uniformly from these
    reparametrise: bool = False  # store (U g, V g^{-T}) with a random g per LoRA
    alpha: float | None = None  # lora_alpha of every module (None: scale 1)
    shapes: tuple[tuple[str, int, int], ...] = DEFAULT_SHAPES

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"count must be positive, got {self.count}")
        if not self.ranks or min(self.ranks) < 1:
            raise ValueError(f"ranks must be positive integers, got {self.ranks}")


def synthetic_tasks(num_modules: int = len(DEFAULT_SHAPES)) -> dict[str, list[str]]:
    """Label columns by task kind; the multiclass label has `num_modules` classes."""
    return {
        "regression": [f"frob_norm_{k}" for k in range(num_modules)]
                      + ["frob_norm_total", "nuclear_norm", "linear_functional"],
        "multilabel": [f"positive_functional_{k}" for k in range(num_modules)],
        "multiclass": ["dominant_module"],
    }


def synthetic_lora_id(index: int) -> str:
    return f"synthetic-{index:05d}"


def synthetic_lora(spec: SyntheticZooSpec, index: int) -> Lora:
    rng = np.random.default_rng([spec.seed, index])
    rank = int(spec.ranks[rng.integers(len(spec.ranks))])
    pairs = []
    for _, n, m in spec.shapes:
        loudness = math.exp(rng.uniform(-1.0, 1.0))
        pairs.append((rng.standard_normal((n, rank)) * loudness / math.sqrt(rank), rng.standard_normal((m, rank))))
    if spec.reparametrise:  # drawn last so the flag changes nothing else
        g = random_well_conditioned_gl(rank, rng)
        g_inv_t = np.linalg.inv(g).T
        pairs = [(u @ g, v @ g_inv_t) for u, v in pairs]
    modules = [LoraModule("", path, torch.from_numpy(u.astype(np.float32)), torch.from_numpy(v.astype(np.float32)),
                          spec.alpha)
               for (path, _, _), (u, v) in zip(spec.shapes, pairs)]
    return Lora(modules, source_format="synthetic", base_model=BASE_MODEL)


def synthetic_loras(spec: SyntheticZooSpec) -> Iterator[tuple[str, Lora]]:
    for index in range(spec.count):
        yield synthetic_lora_id(index), synthetic_lora(spec, index)


def random_well_conditioned_gl(rank: int, rng: np.random.Generator, spread: float = 0.5) -> np.ndarray:
    """g = Q1 diag(e^t) Q2 with t ~ Uniform(-spread, spread): invertible, condition number <= e^{2 spread}.

    The generator's own draw, from its numpy rng, so a zoo stays a pure function of its seed;
    tests draw g with lolzoo.lol.testing.random_gl."""
    q1, _ = np.linalg.qr(rng.standard_normal((rank, rank)))
    q2, _ = np.linalg.qr(rng.standard_normal((rank, rank)))
    return q1 @ np.diag(np.exp(rng.uniform(-spread, spread, rank))) @ q2


def invariant_labels(lora: Lora) -> dict[str, float | bool | int]:
    """Every label of the module docstring for one LoRA, from its ΔW only."""
    labels: dict[str, float | bool | int] = {}
    loudness, functional_total, nuclear, squares = [], 0.0, 0.0, 0.0
    for k, module in enumerate(lora.modules):
        delta = module.scale * (module.U.double() @ module.V.double().T)  # float64 from the stored floats
        n, m = delta.shape
        frob = float(torch.linalg.matrix_norm(delta))
        functional = float((_functional(k, n, m) * delta).sum())
        labels[f"frob_norm_{k}"] = frob
        labels[f"positive_functional_{k}"] = functional > 0
        squares += frob ** 2
        nuclear += float(torch.linalg.svdvals(delta).sum())
        functional_total += functional / math.sqrt(n * m)
        loudness.append(frob / math.sqrt(n * m))
    labels["frob_norm_total"] = math.sqrt(squares)
    labels["nuclear_norm"] = nuclear
    labels["linear_functional"] = functional_total
    labels["dominant_module"] = int(np.argmax(loudness))
    return labels


@lru_cache(maxsize=64)
def _functional(k: int, n: int, m: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng([FUNCTIONAL_SEED, k, n, m]).standard_normal((n, m)))


def synthetic_labels(spec: SyntheticZooSpec) -> pd.DataFrame:
    rows = [{"lora_id": lora_id, **invariant_labels(lora)} for lora_id, lora in synthetic_loras(spec)]
    columns = ["lora_id"] + [c for kind in synthetic_tasks(len(spec.shapes)).values() for c in kind]
    return pd.DataFrame(rows, columns=columns)
