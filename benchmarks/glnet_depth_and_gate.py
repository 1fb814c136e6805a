"""GL-net's depth and gate on a synthetic zoo: the evidence behind the defaults in lolzoo.lol.glnet.

LoRAs of two modules ((16, 12) and (10, 16), rank 3), each in a random GL(3) gauge
(condition number ≤ 5), with three GL-invariant targets:
  log_norm   log ‖ΔW_1‖_F                       (a function of the singular values)
  block_sum  tanh(sum of ΔW_2's top-left 3×3)   (linear in ΔW, then squashed)
  product    tanh(1ᵀΔW_2 1 · sum of ΔW_1's row 1) (a product across modules)
Every variant trains with AdamW (lr 1e-3, batch 32) for the same epochs and seeds; the table
gives test R² per target, and the train R² beside it to show over-fitting.

    python benchmarks/glnet_depth_and_gate.py [--train 3000] [--epochs 40] [--seeds 3]
"""

from __future__ import annotations

import argparse

import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.features import take_rows
from lolzoo.lol.registry import build_model
from lolzoo.lol.testing import random_gl_per_module

SHAPES, RANK = [(16, 12), (10, 16)], 3
TARGETS = ("log_norm", "block_sum", "product")
VARIANTS = {
    "1 layer": {"layers": 1},
    "2 layers, step": {"layers": 2, "gate": "step"},
    "2 layers, sigmoid": {"layers": 2, "gate": "sigmoid"},
    "3 layers, step": {"layers": 3, "gate": "step"},
    "3 layers, sigmoid": {"layers": 3, "gate": "sigmoid"},
}


def synthetic_zoo(size: int, generator: torch.Generator) -> tuple[LoraBatch, torch.Tensor]:
    batch = LoraBatch([torch.randn(size, n, RANK, generator=generator, dtype=torch.float64) for n, _ in SHAPES],
                      [0.3 * torch.randn(size, m, RANK, generator=generator, dtype=torch.float64) for _, m in SHAPES])
    d1, d2 = (u @ v.mT for u, v in zip(batch.U, batch.V))
    targets = torch.stack([torch.linalg.matrix_norm(d1).log(),
                           d2[:, :3, :3].sum((1, 2)).tanh(),
                           (d2.sum((1, 2)) * d1[:, 0].sum(1)).tanh()], dim=1)
    gauge = random_gl_per_module(batch, cond=5.0, generator=generator)
    return batch.transformed(gauge).to(dtype=torch.float32), targets.float()


def r2(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 1 - ((predicted - target) ** 2).mean(0) / target.var(0, unbiased=False)


def train_and_score(hparams: dict, train, test, epochs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    (train_batch, train_y), (test_batch, test_y) = train, test
    torch.manual_seed(seed)
    model = build_model("glnet", SHAPES, RANK, len(TARGETS), **hparams)
    model.fit_preprocessing(train_batch)
    train_x, test_x = model.preprocess(train_batch), model.preprocess(test_batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(train_batch.size).split(32):
            loss = torch.nn.functional.mse_loss(model.forward_features(take_rows(train_x, index)), train_y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        return r2(model.forward_features(test_x), test_y), r2(model.forward_features(train_x), train_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors: threads only contend

    print("| seed | variant | " + " | ".join(f"test R² {t}" for t in TARGETS) + " | "
          + " | ".join(f"train R² {t}" for t in TARGETS) + " |")
    print("|---" * (2 + 2 * len(TARGETS)) + "|")
    for seed in range(args.seeds):
        generator = torch.Generator().manual_seed(seed)
        train, test = synthetic_zoo(args.train, generator), synthetic_zoo(args.test, generator)
        mean, std = train[1].mean(0), train[1].std(0)
        train, test = (train[0], (train[1] - mean) / std), (test[0], (test[1] - mean) / std)
        for name, hparams in VARIANTS.items():
            test_r2, train_r2 = train_and_score(hparams, train, test, args.epochs, 100 + seed)
            cells = [f"{x:.3f}" for x in (*test_r2.tolist(), *train_r2.tolist())]
            print(f"| {seed} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
