"""DreamBooth LoRA finetuning of an SD-1.x pipeline's UNet, as diffusers' train_dreambooth_lora.py does it.

Instance images with the instance prompt, no prior preservation: peft LoRA (gaussian init, so
B starts at zero) on the UNet's target modules, text encoder and VAE frozen, AdamW at a constant
learning rate, noise-prediction MSE under the DDPM training scheduler, gradient clipping at 1
and gradient accumulation. Every random draw (LoRA init, image order, VAE latent sample, noise,
timesteps) comes from the recipe's seed, so on CPU the same recipe gives the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from lolzoo.diffusion.job import TrainingSettings
from lolzoo.lora import Lora
from lolzoo.lora.pairs import module_from_pair

# diffusers' example defaults (train_dreambooth_lora.py): AdamW betas, weight decay, eps, grad clip
ADAM_BETAS = (0.9, 0.999)
ADAM_WEIGHT_DECAY = 1e-2
ADAM_EPSILON = 1e-8
MAX_GRAD_NORM = 1.0


@dataclass
class FinetuneResult:
    lora: Lora
    losses: list[float]  # one per optimiser step: the mean over its accumulated micro-batches
    seconds_per_step: list[float] = field(default_factory=list)


def add_unet_lora(unet, settings: TrainingSettings) -> None:
    """Freeze the UNet and add a trainable peft LoRA whose init is a pure function of the seed."""
    from peft import LoraConfig

    unet.requires_grad_(False)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, init_lora_weights="gaussian",
                        target_modules=list(settings.target_modules))
    with torch.random.fork_rng(devices=[]):  # peft draws A from the global RNG
        torch.manual_seed(settings.seed)
        unet.add_adapter(config)


def unet_lora(unet, alpha: float) -> Lora:
    """The UNet's trained adapter as a canonical Lora (component "unet", diffusers' module paths)."""
    from peft.utils import get_peft_model_state_dict

    state = get_peft_model_state_dict(unet)
    paths = sorted(key[: -len(".lora_A.weight")] for key in state if key.endswith(".lora_A.weight"))
    modules = [module_from_pair("unet", path, state[f"{path}.lora_A.weight"].detach().float().cpu(),
                                state[f"{path}.lora_B.weight"].detach().float().cpu(), alpha)
               for path in paths]
    return Lora(modules, source_format="diffusers")


def encode_prompt(pipeline, prompt: str, device: torch.device) -> torch.Tensor:
    tokenizer = pipeline.tokenizer
    ids = tokenizer([prompt], padding="max_length", max_length=tokenizer.model_max_length,
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


def finetune(pipeline, images: torch.Tensor, settings: TrainingSettings, device: torch.device,
             progress=None) -> FinetuneResult:
    """Train a LoRA on `images` ((N, 3, H, W) in [-1, 1]); `pipeline` is modified (it gets the adapter)."""
    from lolzoo.bases.tiny_sd import training_scheduler

    unet, vae = pipeline.unet.to(device), pipeline.vae.to(device)
    pipeline.text_encoder.to(device).requires_grad_(False)
    vae.requires_grad_(False)
    add_unet_lora(unet, settings)
    unet.train()
    noise_scheduler = training_scheduler(pipeline)
    parameters = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, betas=ADAM_BETAS,
                                  weight_decay=ADAM_WEIGHT_DECAY, eps=ADAM_EPSILON)
    generator = torch.Generator(device).manual_seed(settings.seed)

    prompt_states = encode_prompt(pipeline, settings.instance_prompt, device)
    with torch.no_grad():  # the VAE is frozen: encode once, sample latents per step as the example does
        posterior = vae.encode(images.to(device)).latent_dist
    latent_mean, latent_std = posterior.mean, posterior.std
    scaling = vae.config.scaling_factor
    batches = BatchStream(len(images), settings.train_batch_size, generator)
    accumulation = settings.gradient_accumulation_steps

    losses, step_seconds = [], []
    for _ in range(settings.max_train_steps):
        started = time.perf_counter()
        step_loss = 0.0
        for _ in range(accumulation):
            index = batches.next().to(device)
            mean, std = latent_mean[index], latent_std[index]
            latents = (mean + std * torch.randn(mean.shape, generator=generator, device=device)) * scaling
            noise = torch.randn(latents.shape, generator=generator, device=device)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(index),),
                                      generator=generator, device=device)
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            states = prompt_states.expand(len(index), -1, -1)
            prediction = unet(noisy, timesteps, states).sample
            if noise_scheduler.config.prediction_type == "v_prediction":
                target = noise_scheduler.get_velocity(latents, noise, timesteps)
            else:
                target = noise
            loss = F.mse_loss(prediction.float(), target.float())
            (loss / accumulation).backward()
            step_loss += loss.item() / accumulation
        torch.nn.utils.clip_grad_norm_(parameters, MAX_GRAD_NORM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(step_loss)
        step_seconds.append(time.perf_counter() - started)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{step_loss:.4f}")
    unet.eval()
    return FinetuneResult(unet_lora(unet, settings.alpha), losses, step_seconds)
