"""Each model can fit a tiny batch: the training loss falls (a smoke test of gradients)."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.registry import MODEL_KINDS

from lol_model_helpers import fitted_model, random_lora_batch


def training_losses(model, batch, targets, steps=60, lr=1e-2):
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    features = model.preprocess(batch)  # parameter-free: computed once, as training does
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model.forward_features(features), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind, hparams", [(kind, {}) for kind in MODEL_KINDS] + [
    ("glnet", {"layers": 2}), ("glnet", {"layers": 2, "gate": "sigmoid"}), ("glnet", {"head": "module-mean"}),
    ("glnet", {"head": "entry-mean"})])
def test_loss_falls_on_a_tiny_batch(kind, hparams):
    model = fitted_model(kind, torch.float32, out_dim=1, **hparams)
    batch = random_lora_batch(8, dtype=torch.float32)
    targets = torch.randn(8, 1)
    losses = training_losses(model, batch, targets)
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])
