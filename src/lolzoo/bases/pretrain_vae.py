"""Pretrain the tiny pipeline's AutoencoderKL on the captioned stand-in images (captions unused).

Loss: MSE + L1 reconstruction of the decoded posterior sample, plus a small KL term that keeps
the latents near a unit Gaussian without blurring (SD's VAE also has a perceptual and a GAN loss;
at 32×32 plain pixel losses are enough). Afterwards the latent scaling factor becomes
1 / std of the training latents, as SD 1.x's 0.18215 was measured, so the UNet sees unit-variance
latents.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lolzoo.bases.epoch_batches import epoch_batches
from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_loop import train_within_budget

KL_WEIGHT = 1e-5  # per latent element summed, so about 1e-2 of the reconstruction loss at init


def vae_loss(vae, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    posterior = vae.encode(images).latent_dist
    latents = posterior.sample(generator=generator)
    reconstruction = vae.decode(latents).sample
    pixel = F.mse_loss(reconstruction, images) + F.l1_loss(reconstruction, images)
    return pixel + KL_WEIGHT * posterior.kl().mean()


def train_vae(vae, images: torch.Tensor, budget: Budget, seed: int = 0, batch_size: int = 32,
              learning_rate: float = 1e-3, log_every: int = 0) -> list[float]:
    """Train in place; returns the loss of every step. Batches are a seeded shuffle of `images`."""
    generator = torch.Generator().manual_seed(seed)  # the batch order and the posterior samples
    return train_within_budget(vae, epoch_batches(len(images), batch_size, generator),
                               lambda index: vae_loss(vae, images[index], generator), budget, name="vae",
                               learning_rate=learning_rate, weight_decay=0.0, log_every=log_every)


@torch.no_grad()
def latent_std(vae, images: torch.Tensor, seed: int = 0, batch_size: int = 256) -> float:
    """The std of posterior samples over `images` (unscaled), the quantity SD's scale normalises."""
    generator = torch.Generator().manual_seed(seed)
    samples = [vae.encode(images[i:i + batch_size]).latent_dist.sample(generator=generator)
               for i in range(0, len(images), batch_size)]
    return float(torch.cat(samples).std())


def set_latent_scale(vae, images: torch.Tensor, seed: int = 0) -> float:
    """Set vae.config.scaling_factor to 1 / std of the latents of `images`; returns it."""
    scale = 1.0 / latent_std(vae, images, seed)
    vae.register_to_config(scaling_factor=scale)
    return scale
