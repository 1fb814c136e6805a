"""DreamBooth LoRA finetuning of an SD-1.x pipeline's UNet, a shard of LoRAs at once, as diffusers'
train_dreambooth_lora.py trains one.

Instance images with the instance prompt, optionally with prior preservation: LoRAs (peft's
gaussian init, so B starts at zero) on the UNet's target modules, text encoder and VAE frozen,
AdamW at a constant learning rate, noise-prediction MSE under the DDPM training scheduler,
gradient clipping at 1 and gradient accumulation.

Prior preservation (the zoo's `prior_preservation`, job.PriorPreservation) is the example's
--with_prior_preservation: before training, the base pipeline (no LoRA attached) samples
`num_class_images` class images from `class_prompt`, once per shard job, in batches, from
initial latents drawn by a generator seeded with `class_seed` (`steps` denoising steps,
default 20, guidance `guidance_scale`, default 7.5), rounded to 8 bits as the example's saved
PNGs are. They depend on neither the shard nor its LoRAs, so every LoRA of the zoo trains on
the same class images. Each micro-batch of a LoRA then holds its instance samples plus as many
class samples (conditioned on the class prompt), and its loss is the instance MSE plus
`prior_loss_weight` × the class MSE. A weight of 0 is off: no class images are made and the
LoRA is bit for bit the one trained without prior preservation. Without the key, nothing
changes from the instance-only training.

A shard of K LoRAs trains in one batched forward per micro-step: each active LoRA contributes
its own micro-batch, routed through its own factors (batched_lora.py). Each LoRA keeps
everything a lone run has: its own random stream (a generator from its recipe seed, drawn in
the same order as alone: LoRA init, then per micro-batch image order, VAE latent sample, noise,
timesteps, then the same four for its class samples), its own loss (the mean over its samples),
its own accumulation count, gradient clipping and AdamW learning rate and step count; it leaves
the batch after its last step. The base UNet has no batch statistics, so a LoRA trained in a
shard is the LoRA trained alone, up to float rounding; on CPU the same shard gives the same bytes.

Precision (the zoo's `precision`, lolzoo.runtime) is diffusers' --mixed_precision: in fp16 or
bf16 the frozen text encoder, VAE and UNet are cast to that dtype (half the memory), the UNet's
forward runs under torch.autocast, and the LoRA factors, their gradients and AdamW's state stay
float32, as the example's cast_training_params keeps them; the loss is taken in float32. fp16
scales each LoRA's loss with its own dynamic scale (batched_lora.BatchedGradScaler), so a LoRA
whose gradient overflows skips that step alone (FinetuneResult.skipped_steps). The random draws
are the same in every precision (noise and latent samples are drawn in float32). fp32 is the
training above, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from lolzoo.diffusion.batched_lora import (BatchedAdamW, BatchedGradScaler, BatchedLora, LoraShape,
                                          clip_grad_norm_per_lora)
from lolzoo.diffusion.job import PriorPreservation, TrainingSettings
from lolzoo.lora import Lora
from lolzoo.runtime import autocast, needs_loss_scaling, weight_dtype

# Images per VAE forward when the shard's images are encoded: 64 small ones, but never more
# pixels than 4 images of 512 px (a 64-image chunk at SD 1.4's 512 px holds tens of GB of encoder
# activations). Bounds memory; at up to 128 px the chunks, and so the results, are as before.
ENCODE_CHUNK = 64
ENCODE_PIXELS = 4 * 512 * 512
CLASS_CHUNK = 64  # class images per pipeline call: bounds memory, not results


@dataclass
class FinetuneResult:
    lora: Lora
    losses: list[float]  # one per optimiser step: the mean over its accumulated micro-batches
    samples: int = 0  # samples it trained on (steps × accumulation × batch size, twice that with prior
    # preservation's class samples): its share of the shard's batched forwards
    prior_losses: list[float] | None = None  # with prior preservation: the class MSE per step, unweighted
    skipped_steps: int = 0  # fp16: optimiser steps skipped because the scaled gradient overflowed


@dataclass
class ShardResult:
    results: list[FinetuneResult]
    seconds_per_micro_step: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)  # samples per batched forward
    class_images: torch.Tensor | None = None  # with prior preservation: (N, 3, H, W) in [-1, 1]


def encode_prompts(pipeline, prompts: list[str], device: torch.device) -> torch.Tensor:
    tokenizer = pipeline.tokenizer
    ids = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids.to(device)
    with torch.no_grad():
        return pipeline.text_encoder(ids)[0]


class BatchStream:
    """Endless micro-batches of image indices: a fresh seeded permutation each pass (a shuffled DataLoader)."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator):
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.pending: list[int] = []

    def next(self) -> torch.Tensor:
        while len(self.pending) < self.batch_size:
            self.pending += torch.randperm(self.count, generator=self.generator,
                                           device=self.generator.device).tolist()
        batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size:]
        return torch.tensor(batch)


def encode_chunk(pixels: int) -> int:
    """Images of `pixels` pixels each per VAE forward."""
    return max(1, min(ENCODE_CHUNK, ENCODE_PIXELS // pixels))


@torch.no_grad()
def latent_distributions(vae, images: list[torch.Tensor], device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, std) of each LoRA's images' VAE posterior, encoded in chunks across the shard."""
    stacked = torch.cat(images)
    chunk = encode_chunk(stacked.shape[-2] * stacked.shape[-1])
    means, stds = [], []
    for start in range(0, len(stacked), chunk):
        posterior = vae.encode(stacked[start:start + chunk].to(device, vae.dtype)).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    mean, std = torch.cat(means), torch.cat(stds)
    bounds = torch.tensor([0] + [len(x) for x in images]).cumsum(0).tolist()
    return [(mean[a:b], std[a:b]) for a, b in zip(bounds, bounds[1:])]


@torch.no_grad()
def generate_class_images(pipeline, prior: PriorPreservation, device: torch.device,
                          chunk: int = CLASS_CHUNK) -> torch.Tensor:
    """(num_class_images, 3, H, W) in [-1, 1]: the base pipeline's samples of the class prompt.

    All initial latents (and a seed per image for a stochastic scheduler's noise) come from one
    CPU generator seeded with class_seed, so an image does not depend on the chunk it is made in
    (up to the float rounding of another batch size; a job always uses the same chunks, so its
    class images are the same bytes every time). They are rounded to 8 bits, as the example's
    class images are saved as PNGs.
    """
    unet = pipeline.unet
    config = unet.config
    master = torch.Generator().manual_seed(prior.class_seed)
    latents = torch.randn(prior.num_class_images, config.in_channels, config.sample_size, config.sample_size,
                          generator=master)
    seeds = torch.randint(0, 2 ** 62, (prior.num_class_images,), generator=master).tolist()
    pipeline.set_progress_bar_config(disable=True)
    chunks = []
    for start in range(0, prior.num_class_images, chunk):
        part = latents[start:start + chunk]
        generators = [torch.Generator(device).manual_seed(seed) for seed in seeds[start:start + chunk]]
        output = pipeline([prior.class_prompt] * len(part), num_inference_steps=prior.steps,
                          guidance_scale=prior.guidance_scale, generator=generators,
                          latents=part.to(device, unet.dtype), output_type="pt")
        chunks.append(output.images.float().cpu().clamp(0, 1))
    pixels = (torch.cat(chunks) * 255).round()
    return (pixels / 127.5 - 1.0).to(pipeline.vae.dtype)


def finetune_shard(pipeline, images: list[torch.Tensor], settings: list[TrainingSettings], device: torch.device,
                   progress=None, prior: PriorPreservation | None = None, precision: str = "fp32") -> ShardResult:
    """Train LoRA k on images[k] ((N_k, 3, H, W) in [-1, 1]) with settings[k], all in one batch per micro-step.

    With `prior` (active: a weight above 0), the class images are generated first, once for the
    shard, and each LoRA trains with prior preservation. `pipeline`'s UNet gets the shard's hooks
    for the duration; it is left as it was, on `device` (and, in fp16 or bf16, in that dtype).
    """
    from lolzoo.bases.tiny_sd import training_scheduler

    if len(images) != len(settings) or not settings:
        raise ValueError(f"{len(images)} image sets for {len(settings)} LoRAs")
    targets = {s.target_modules for s in settings}
    if len(targets) != 1:
        raise ValueError("every LoRA of a shard adapts the same target modules")
    dtype = weight_dtype(precision)
    placement = {"device": device} if dtype is None else {"device": device, "dtype": dtype}
    unet, vae = pipeline.unet.to(**placement), pipeline.vae.to(**placement)
    pipeline.text_encoder.to(**placement).requires_grad_(False)
    vae.requires_grad_(False)
    unet.requires_grad_(False)
    with_prior = prior is not None and prior.active
    class_images = generate_class_images(pipeline, prior, device) if with_prior else None  # before any LoRA
    count = len(settings)
    shard = BatchedLora.attach(unet, targets.pop(), [LoraShape(s.rank, s.alpha) for s in settings])
    generators = [torch.Generator().manual_seed(s.seed) for s in settings]  # CPU streams: any device, same draws
    for k, generator in enumerate(generators):
        shard.init_gaussian(k, generator)
    factors = shard.factors()
    optimizer = BatchedAdamW(factors, [s.learning_rate for s in settings])
    scaler = BatchedGradScaler(count, device) if needs_loss_scaling(precision) else None
    skipped_steps = [0] * count
    noise_scheduler = training_scheduler(pipeline)
    timesteps_total = noise_scheduler.config.num_train_timesteps

    prompts = sorted({s.instance_prompt for s in settings} | ({prior.class_prompt} if with_prior else set()))
    prompt_states = encode_prompts(pipeline, prompts, device)
    prompt_of = [prompts.index(s.instance_prompt) for s in settings]
    latents_of = latent_distributions(vae, images, device)
    scaling = vae.config.scaling_factor
    streams = [BatchStream(len(x), s.train_batch_size, g) for x, s, g in zip(images, settings, generators)]
    micro_steps = [s.max_train_steps * s.gradient_accumulation_steps for s in settings]
    if with_prior:
        class_prompt = prompts.index(prior.class_prompt)
        class_latents = latent_distributions(vae, [class_images], device)[0]
        class_streams = [BatchStream(len(class_images), s.train_batch_size, g) for s, g in zip(settings, generators)]

    def draw(latents, stream, generator):
        """One micro-batch of a LoRA from its generator: image order, latent sample, noise, timesteps."""
        index = stream.next().to(device)
        mean, std = latents[0][index], latents[1][index]
        sample = torch.randn(mean.shape, generator=generator).to(device)
        noise = torch.randn(mean.shape, generator=generator).to(device)
        steps = torch.randint(0, timesteps_total, (len(index),), generator=generator).to(device)
        return (mean + std * sample) * scaling, noise, steps

    step_losses = [[] for _ in settings]
    step_prior_losses = [[] for _ in settings]
    pending = [0.0] * count  # the current optimiser step's accumulated loss, per LoRA
    pending_prior = [0.0] * count
    seconds, batch_sizes = [], []
    unet.train()
    try:
        for micro in range(max(micro_steps)):
            started = time.perf_counter()
            active = [k for k in range(count) if micro < micro_steps[k]]
            batch = []  # (latents, noise, timesteps, LoRA, prompt, is a class sample)
            for k in active:  # each LoRA draws from its own stream, in the order a lone run draws
                batch.append((*draw(latents_of[k], streams[k], generators[k]), k, prompt_of[k], False))
                if with_prior:  # then as many class samples, from the same generator
                    batch.append((*draw(class_latents, class_streams[k], generators[k]), k, class_prompt, True))
            latents = torch.cat([b[0] for b in batch])
            noise = torch.cat([b[1] for b in batch])
            timesteps = torch.cat([b[2] for b in batch])
            owner = torch.cat([torch.full((len(b[0]),), b[3], dtype=torch.long) for b in batch]).to(device)
            prompt = torch.cat([torch.full((len(b[0]),), b[4], dtype=torch.long) for b in batch]).to(device)
            is_class = torch.cat([torch.full((len(b[0]),), b[5], dtype=torch.bool) for b in batch]).to(device)
            shard.router.index = owner
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            states = prompt_states[prompt]
            with autocast(device, precision):
                prediction = unet(noisy, timesteps, states).sample
            if noise_scheduler.config.prediction_type == "v_prediction":
                target = noise_scheduler.get_velocity(latents, noise, timesteps)
            else:
                target = noise
            per_sample = (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
            total = 0.0
            for k in active:  # LoRA k's loss is the mean over its own samples; its factors see only it
                loss = per_sample[(owner == k) & ~is_class].mean()
                accumulation = settings[k].gradient_accumulation_steps
                if with_prior:  # the example's loss: instance MSE + weight × class MSE
                    prior_loss = per_sample[(owner == k) & is_class].mean()
                    loss = loss + prior.prior_loss_weight * prior_loss
                    pending_prior[k] += prior_loss.item() / accumulation
                weighted = loss / accumulation
                total = total + (weighted if scaler is None else weighted * scaler.scale(k))
                pending[k] += loss.item() / accumulation
            total.backward()
            stepping = [k for k in active if (micro + 1) % settings[k].gradient_accumulation_steps == 0]
            if stepping:
                which = torch.tensor(stepping, device=device)
                if scaler is not None:  # GradScaler's unscale_, step-if-finite, update; per LoRA
                    finite = scaler.unscale_(factors, which)
                    scaler.update(which, finite)
                    skipped = which[~finite]
                    for p in factors:
                        if p.grad is not None:
                            p.grad[skipped] = 0
                    for k in skipped.tolist():
                        skipped_steps[k] += 1
                    which = which[finite]
                if len(which):
                    clip_grad_norm_per_lora(factors, which)
                    optimizer.step(which)
                for k in stepping:
                    step_losses[k].append(pending[k])
                    step_prior_losses[k].append(pending_prior[k])
                    pending[k] = pending_prior[k] = 0.0
            seconds.append(time.perf_counter() - started)
            batch_sizes.append(len(owner))
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loras=len(active), batch=len(owner))
    finally:
        unet.eval()
        shard.router.index = None
        shard.detach()
    per_micro_step = 2 if with_prior else 1  # instance samples, plus as many class samples
    results = [FinetuneResult(shard.lora(k), step_losses[k],
                              micro_steps[k] * settings[k].train_batch_size * per_micro_step,
                              step_prior_losses[k] if with_prior else None, skipped_steps[k])
               for k in range(count)]
    return ShardResult(results, seconds, batch_sizes, class_images)
