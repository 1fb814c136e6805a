"""Pretrain the tiny pipeline's UNet on VAE latents of captioned images.

DDPM noise prediction (SD 1.x's epsilon objective and noise schedule) with AdamW at batch 64,
a warm-up and a cosine decay of the learning rate over the step budget. 10% of captions are
dropped to the empty prompt, so the model learns the unconditional prediction that
classifier-free guidance needs. An exponential moving average of the weights is kept and is
what the saved model gets: EMA samples are much cleaner after short training.

The text encoder is frozen, as in SD, when it is a pretrained one: the default world copies
its tiny CLIP's text tower into it (lolzoo.bases.clip_text_encoder), so its states are
computed once per caption. A random text encoder is trained with the UNet instead; measured:
frozen at random, the class words moved the caption states by only a fifth of their norm and
the UNet ignored which digit was asked for (prompted-digit accuracy 8-11%, chance 10%);
trained with the UNet it reached 0.31 after 1,600 steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_loop import train_within_budget
from lolzoo.bases.tiny_sd import training_scheduler

CAPTION_DROPOUT = 0.1
EMA_DECAY = 0.999
# Min-SNR-γ loss weighting (Hang et al., 2023; diffusers' --snr_gamma): each sample's noise
# error is weighted by min(SNR, γ) / SNR. Unweighted, the nearly clean timesteps dominate the
# loss (measured: 0.34 below t=300 against 0.014 above t=600) and the UNet learned texture
# while ignoring which digit its prompt named.
SNR_GAMMA = 5.0
# The cosine decay ends at this fraction of the peak rate. Measured over 1,600 steps: a peak
# of 2e-3 decaying to 5% (over 2,400), with 70% digits per batch, drew the asked digit in 0.50
# of samples, against 0.31 at a constant 1e-3 with the digits' natural 64%.
FINAL_LR_FRACTION = 0.05


def tokenize(pipeline, prompts: list[str]) -> torch.Tensor:
    return pipeline.tokenizer(list(prompts), padding="max_length", max_length=pipeline.tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids


@torch.no_grad()
def encode_prompts(pipeline, prompts: list[str]) -> torch.Tensor:
    """(N, 77, hidden) text-encoder states, as the pipeline conditions on them."""
    return pipeline.text_encoder(tokenize(pipeline, prompts))[0]


@torch.no_grad()
def encode_latent_distribution(vae, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image (unscaled); the loop samples from them per step."""
    means, stds = [], []
    for i in range(0, len(images), batch_size):
        posterior = vae.encode(images[i:i + batch_size]).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    return torch.cat(means), torch.cat(stds)


def learning_rate_factor(step: int, warmup_steps: int, total_steps: int | None) -> float:
    """Linear warm-up, then a cosine decay to FINAL_LR_FRACTION at total_steps (constant without one)."""
    warmup = min(1.0, (step + 1) / warmup_steps)
    if total_steps is None:
        return warmup
    progress = min(1.0, step / total_steps)
    return warmup * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def sampling_weights(domains: list[str], shares: dict[str, float] | None) -> torch.Tensor:
    """Per-image weights so each domain named in `shares` fills that share of a batch on average
    (the rest share what is left, in proportion to their size); uniform without shares."""
    if not shares:
        return torch.ones(len(domains))
    counts = {d: domains.count(d) for d in set(domains)}
    unknown = set(shares) - set(counts)
    if unknown:
        raise ValueError(f"no images of domain(s) {sorted(unknown)} (have {sorted(counts)})")
    rest = 1.0 - sum(shares.values())
    others = sum(n for d, n in counts.items() if d not in shares)
    if rest < 0 or (others and rest <= 0) or (not others and abs(rest) > 1e-9):
        raise ValueError(f"domain shares {shares} must leave a positive share for the other domains")
    share_of = {d: shares.get(d, rest * counts[d] / others if others else 0.0) for d in counts}
    return torch.tensor([share_of[d] / counts[d] for d in domains])


def min_snr_weights(noise_scheduler, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """min(SNR(t), γ) / SNR(t) per timestep, for an epsilon-predicting model."""
    alphas = noise_scheduler.alphas_cumprod[timesteps]
    snr = alphas / (1 - alphas)
    return torch.clamp(snr, max=gamma) / snr


class EmaWeights:
    """An exponential moving average of a module's parameters, with the usual warm-up
    (decay min(EMA_DECAY, (1 + t) / (10 + t))) so early averages are not stuck at the init."""

    def __init__(self, module: torch.nn.Module, decay: float = EMA_DECAY):
        self.decay = decay
        self.shadow = [p.detach().clone() for p in module.parameters()]
        self.updates = 0

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for shadow, param in zip(self.shadow, module.parameters()):
            shadow.lerp_(param.detach(), 1.0 - decay)

    @torch.no_grad()
    def copy_to(self, module: torch.nn.Module) -> None:
        for shadow, param in zip(self.shadow, module.parameters()):
            param.copy_(shadow)


def train_unet(pipeline, images: torch.Tensor, captions: list[str], budget: Budget, seed: int = 0,
               batch_size: int = 64, learning_rate: float = 2e-3, warmup_steps: int = 100,
               caption_dropout: float = CAPTION_DROPOUT, snr_gamma: float = SNR_GAMMA,
               train_text_encoder: bool = True, domains: list[str] | None = None,
               domain_shares: dict[str, float] | None = None, log_every: int = 0) -> list[float]:
    """Train pipeline.unet (and pipeline.text_encoder if `train_text_encoder`) in place and
    leave their EMA weights in them; returns every step's loss.

    `images` are (N, 3, H, W) in [-1, 1]; the VAE (already pretrained, scale set) encodes them
    once. `domain_shares` (e.g. {"digit": 0.7}, with `domains` naming each image's) fixes the
    expected share of each domain in a batch. The learning rate decays over `budget.steps`.
    """
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    weights = sampling_weights(domains if domains is not None else [""] * len(images), domain_shares)
    if len(weights) != len(images):
        raise ValueError(f"{len(images)} images but {len(weights)} domains")
    generator = torch.Generator().manual_seed(seed)
    unet, text_encoder, scale = pipeline.unet, pipeline.text_encoder, pipeline.vae.config.scaling_factor
    trained = torch.nn.ModuleList([unet, text_encoder] if train_text_encoder else [unet])
    noise_scheduler = training_scheduler(pipeline)

    latent_mean, latent_std = encode_latent_distribution(pipeline.vae, images)
    # index 0 is the empty prompt that dropped captions become
    unique = [""] + sorted(set(captions) - {""})
    caption_ids = torch.tensor([unique.index(c) for c in captions])
    tokens = tokenize(pipeline, unique)
    if not train_text_encoder:
        text_encoder.requires_grad_(False)
        with torch.no_grad():
            frozen_states = torch.cat([text_encoder(tokens[i:i + 256])[0] for i in range(0, len(tokens), 256)])

    def batch_loss(index: torch.Tensor) -> torch.Tensor:
        latents = (latent_mean[index] + latent_std[index] * torch.randn(latent_mean[index].shape, generator=generator)) * scale
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(noise_scheduler.config.num_train_timesteps, (batch_size,), generator=generator)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        dropped = torch.rand(batch_size, generator=generator) < caption_dropout
        prompt_ids = torch.where(dropped, 0, caption_ids[index])
        if train_text_encoder:  # encode each distinct prompt of the batch once, spread over its rows
            present, rows = torch.unique(prompt_ids, return_inverse=True)
            states = text_encoder(tokens[present])[0][rows]
        else:
            states = frozen_states[prompt_ids]
        prediction = unet(noisy, timesteps, encoder_hidden_states=states).sample
        per_sample = F.mse_loss(prediction, noise, reduction="none").mean(dim=(1, 2, 3))
        return (per_sample * min_snr_weights(noise_scheduler, timesteps, snr_gamma)).mean()

    trained.requires_grad_(True)
    ema = EmaWeights(trained)
    losses = train_within_budget(
        trained, _weighted_batches(weights, batch_size, generator), batch_loss, budget, name="unet",
        learning_rate=learning_rate, weight_decay=1e-2,
        learning_rate_at=lambda step: learning_rate * learning_rate_factor(step, warmup_steps, budget.steps),
        clip_norm=1.0, after_step=lambda: ema.update(trained), log_every=log_every)
    ema.copy_to(trained)
    trained.requires_grad_(False)
    return losses


def _weighted_batches(weights: torch.Tensor, batch_size: int, generator: torch.Generator):
    """Endless batches of `batch_size` indices drawn with replacement, each in proportion to its weight."""
    while True:
        yield torch.multinomial(weights, batch_size, replacement=True, generator=generator)
