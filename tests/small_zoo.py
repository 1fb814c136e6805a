"""A small synthetic zoo and brief `lolzoo fit` runs on it: what the lol and report tests train on."""

from __future__ import annotations

from pathlib import Path

from lolzoo.synthetic.generator import SyntheticZooSpec
from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo

# Small modules: Σ n·m = 120 entries of ΔW, fewer than the ~480 training LoRAs of the learning
# test, so a target linear in ΔW is identifiable (the default synthetic shapes have 928).
SMALL_SHAPES = (("blocks.0.attn.q", 6, 4), ("blocks.1.mlp.fc", 4, 8), ("blocks.2.attn.out", 8, 8))


def small_zoo_spec(count: int, seed: int = 0, ranks=(4,)) -> SyntheticZooSpec:
    return SyntheticZooSpec(count=count, seed=seed, ranks=tuple(ranks), reparametrise=True, shapes=SMALL_SHAPES)


def write_small_zoo(path: Path, count: int, seed: int = 0, ranks=(4,)) -> Path:
    write_synthetic_zoo(path, small_zoo_spec(count, seed, ranks))
    return path


def fit_small(zoo: Path, out: Path, model: str, *flags, task: str = "regression",
              target: str = "frob_norm_total") -> Path:
    """`lolzoo fit` through the CLI as a user runs it (extra flags as given); the fit must succeed."""
    from lolzoo.cli import main

    assert main(["fit", "--zoo", str(zoo), "--task", task, "--target", target, "--model", model,
                 "--out", str(out), *map(str, flags)]) == 0
    return out
