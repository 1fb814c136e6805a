"""DreamBooth LoRA finetuning of an SD-1.x pipeline's UNet, a shard of LoRAs at once, as diffusers'
train_dreambooth_lora.py trains one.

Instance images with the instance prompt, no prior preservation: LoRAs (peft's gaussian init,
so B starts at zero) on the UNet's target modules, text encoder and VAE frozen, AdamW at a
constant learning rate, noise-prediction MSE under the DDPM training scheduler, gradient
clipping at 1 and gradient accumulation.

A shard of K LoRAs trains in one batched forward per micro-step: each active LoRA contributes
its own micro-batch, routed through its own factors (batched_lora.py). Each LoRA keeps
everything a lone run has: its own random stream (a generator from its recipe seed, drawn in
the same order as alone: LoRA init, then per micro-batch image order, VAE latent sample, noise,
timesteps), its own loss (the mean over its samples), its own accumulation count, gradient
clipping and AdamW learning rate and step count; it leaves the batch after its last step. The
base UNet has no batch statistics, so a LoRA trained in a shard is the LoRA trained alone, up
to float rounding; on CPU the same shard gives the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from lolzoo.diffusion.batched_lora import BatchedAdamW, BatchedLora, LoraShape, clip_grad_norm_per_lora
from lolzoo.diffusion.job import TrainingSettings
from lolzoo.lora import Lora

ENCODE_CHUNK = 64  # images per VAE forward when the shard's images are encoded


@dataclass
class FinetuneResult:
    lora: Lora
    losses: list[float]  # one per optimiser step: the mean over its accumulated micro-batches
    samples: int = 0  # images it trained on (steps × accumulation × batch size): its share of the shard


@dataclass
class ShardResult:
    results: list[FinetuneResult]
    seconds_per_micro_step: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)  # samples per batched forward


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


@torch.no_grad()
def latent_distributions(vae, images: list[torch.Tensor], device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, std) of each LoRA's images' VAE posterior, encoded in chunks across the shard."""
    stacked = torch.cat(images)
    means, stds = [], []
    for start in range(0, len(stacked), ENCODE_CHUNK):
        posterior = vae.encode(stacked[start:start + ENCODE_CHUNK].to(device)).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    mean, std = torch.cat(means), torch.cat(stds)
    bounds = torch.tensor([0] + [len(x) for x in images]).cumsum(0).tolist()
    return [(mean[a:b], std[a:b]) for a, b in zip(bounds, bounds[1:])]


def finetune_shard(pipeline, images: list[torch.Tensor], settings: list[TrainingSettings], device: torch.device,
                   progress=None) -> ShardResult:
    """Train LoRA k on images[k] ((N_k, 3, H, W) in [-1, 1]) with settings[k], all in one batch per micro-step.

    `pipeline`'s UNet gets the shard's hooks for the duration; it is left as it was.
    """
    from lolzoo.bases.tiny_sd import training_scheduler

    if len(images) != len(settings) or not settings:
        raise ValueError(f"{len(images)} image sets for {len(settings)} LoRAs")
    targets = {s.target_modules for s in settings}
    if len(targets) != 1:
        raise ValueError("every LoRA of a shard adapts the same target modules")
    unet, vae = pipeline.unet.to(device), pipeline.vae.to(device)
    pipeline.text_encoder.to(device).requires_grad_(False)
    vae.requires_grad_(False)
    unet.requires_grad_(False)
    count = len(settings)
    shard = BatchedLora.attach(unet, targets.pop(), [LoraShape(s.rank, s.alpha) for s in settings])
    generators = [torch.Generator().manual_seed(s.seed) for s in settings]  # CPU streams: any device, same draws
    for k, generator in enumerate(generators):
        shard.init_gaussian(k, generator)
    factors = shard.factors()
    optimizer = BatchedAdamW(factors, [s.learning_rate for s in settings])
    noise_scheduler = training_scheduler(pipeline)
    timesteps_total = noise_scheduler.config.num_train_timesteps

    prompts = sorted({s.instance_prompt for s in settings})
    prompt_states = encode_prompts(pipeline, prompts, device)
    prompt_of = [prompts.index(s.instance_prompt) for s in settings]
    latents_of = latent_distributions(vae, images, device)
    scaling = vae.config.scaling_factor
    streams = [BatchStream(len(x), s.train_batch_size, g) for x, s, g in zip(images, settings, generators)]
    micro_steps = [s.max_train_steps * s.gradient_accumulation_steps for s in settings]

    step_losses = [[] for _ in settings]
    pending = [0.0] * count  # the current optimiser step's accumulated loss, per LoRA
    seconds, batch_sizes = [], []
    unet.train()
    try:
        for micro in range(max(micro_steps)):
            started = time.perf_counter()
            active = [k for k in range(count) if micro < micro_steps[k]]
            batch = []
            for k in active:  # each LoRA draws from its own stream, in the order a lone run draws
                generator = generators[k]
                index = streams[k].next()
                mean, std = latents_of[k][0][index.to(device)], latents_of[k][1][index.to(device)]
                sample = torch.randn(mean.shape, generator=generator).to(device)
                noise = torch.randn(mean.shape, generator=generator).to(device)
                steps = torch.randint(0, timesteps_total, (len(index),), generator=generator).to(device)
                batch.append(((mean + std * sample) * scaling, noise, steps, k))
            latents = torch.cat([b[0] for b in batch])
            noise = torch.cat([b[1] for b in batch])
            timesteps = torch.cat([b[2] for b in batch])
            owner = torch.cat([torch.full((len(b[0]),), b[3], dtype=torch.long) for b in batch]).to(device)
            shard.router.index = owner
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            states = prompt_states[torch.tensor([prompt_of[k] for k in owner.tolist()], device=device)]
            prediction = unet(noisy, timesteps, states).sample
            if noise_scheduler.config.prediction_type == "v_prediction":
                target = noise_scheduler.get_velocity(latents, noise, timesteps)
            else:
                target = noise
            per_sample = (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
            total = 0.0
            for k in active:  # LoRA k's loss is the mean over its own samples; its factors see only it
                loss = per_sample[owner == k].mean()
                accumulation = settings[k].gradient_accumulation_steps
                total = total + loss / accumulation
                pending[k] += loss.item() / accumulation
            total.backward()
            stepping = [k for k in active if (micro + 1) % settings[k].gradient_accumulation_steps == 0]
            if stepping:
                which = torch.tensor(stepping, device=device)
                clip_grad_norm_per_lora(factors, which)
                optimizer.step(which)
                for k in stepping:
                    step_losses[k].append(pending[k])
                    pending[k] = 0.0
            seconds.append(time.perf_counter() - started)
            batch_sizes.append(len(owner))
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loras=len(active), batch=len(owner))
    finally:
        unet.eval()
        shard.router.index = None
        shard.detach()
    results = [FinetuneResult(shard.lora(k), step_losses[k], micro_steps[k] * settings[k].train_batch_size)
               for k in range(count)]
    return ShardResult(results, seconds, batch_sizes)
