"""Evaluate a shard of LoRAs: put them all on the base at once, sample `images_per_prompt`
images per prompt and LoRA (the paper: one) in large batches, CLIP-score each LoRA's samples.

The CLIP score is the paper's: the mean over images of max(100 · cos(image, prompt), 0),
with fixed seeds so that every LoRA of a zoo starts from the same noise per prompt and image
(so a LoRA gets the same images, up to float rounding, whatever shard it is evaluated in).
`sampler` picks the scheduler that samples (the base's own, or DDIM, DPM-Solver++ or Euler on
the base's noise schedule): a few-step solver measures the same label for less time.
The LoRAs are stacked in batched_lora's layers; each sample of a pipeline batch (and its
classifier-free-guidance twin) is routed to its LoRA. Before sampling we check that each LoRA
fits the base (module paths and shapes) and that, once loaded, it really changes the UNet's
output: a silently ignored LoRA would label the base, not the LoRA.

`load_lora_into` is diffusers' own loader (pipeline.load_lora_weights) with the same checks:
the reference the batched layers are tested against, so the files stay what diffusers reads.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lolzoo.diffusion.batched_lora import BatchedLora, LoraShape, Router
from lolzoo.diffusion.job import SAMPLER_CLASSES, SAMPLERS, EvaluationSettings
from lolzoo.errors import LolzooError
from lolzoo.lora import Lora

ADAPTER_NAME = "evaluated"
IMAGES_PER_BATCH = 64  # (LoRA, prompt) samples per pipeline call: bounds memory, not results
# ...and never more pixels per call than 16 images of 512 px: SD 1.4's 33 prompts in one call
# would decode 33 512-px images at once (tens of GB of VAE activations). At up to 128 px the
# calls, and so the images, are as before.
PIXELS_PER_BATCH = 16 * 512 * 512


def images_per_call(pipeline) -> int:
    """(LoRA, prompt) samples per pipeline call at the pipeline's image size."""
    side = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
    return max(1, min(IMAGES_PER_BATCH, PIXELS_PER_BATCH // (side * side)))


class LoraMismatchError(LolzooError):
    """A LoRA that does not fit the base it is evaluated on."""


def check_lora_fits(unet, lora: Lora) -> None:
    """Every module is a UNet linear layer of the base with the LoRA's (out, in) shape."""
    layers = dict(unet.named_modules())
    for module in lora.modules:
        if module.component != "unet":
            raise LoraMismatchError(f"{module.name}: only UNet LoRAs are evaluated, not {module.component or 'bare'} ones")
        layer = layers.get(module.path)
        if not isinstance(layer, torch.nn.Linear):
            raise LoraMismatchError(f"{module.name}: the base UNet has no linear layer {module.path}")
        if (layer.out_features, layer.in_features) != (module.out_features, module.in_features):
            raise LoraMismatchError(
                f"{module.name}: LoRA ΔW is {module.out_features}×{module.in_features} but the base layer is "
                f"{layer.out_features}×{layer.in_features}: the LoRA was trained on another base")


def check_lora_placed(unet, lora: Lora, source) -> None:
    """diffusers placed every module, at the scale alpha / r the file records (not the default 1)."""
    from peft.tuners.lora import LoraLayer

    placed = {name: layer for name, layer in unet.named_modules() if isinstance(layer, LoraLayer)}
    missing = [m.path for m in lora.modules if m.path not in placed]
    if missing or len(placed) != len(lora.modules):
        raise LoraMismatchError(f"{source}: diffusers placed {len(placed)} of the LoRA's {len(lora.modules)} "
                                f"modules (missing e.g. {missing[:2]})")
    for module in lora.modules:
        scaling = placed[module.path].scaling.get(ADAPTER_NAME)
        if scaling is None or abs(scaling - module.scale) > 1e-6 * max(1.0, module.scale):
            raise LoraMismatchError(f"{source}: {module.path} loaded at scale {scaling}, the file says {module.scale}")


@torch.no_grad()
def unet_probe(pipeline, copies: int = 1) -> torch.Tensor:
    """The UNet's output on one fixed input (repeated `copies` times): compared with and without LoRAs."""
    config = pipeline.unet.config
    generator = torch.Generator().manual_seed(0)
    device, dtype = pipeline.unet.device, pipeline.unet.dtype
    latents = torch.randn(1, config.in_channels, config.sample_size, config.sample_size, generator=generator)
    states = torch.randn(1, pipeline.tokenizer.model_max_length, config.cross_attention_dim, generator=generator)
    timestep = torch.tensor([500] * copies)
    latents, states = latents.expand(copies, -1, -1, -1), states.expand(copies, -1, -1)
    return pipeline.unet(latents.to(device, dtype), timestep.to(device), states.to(device, dtype)).sample.float().cpu()


def lora_shape(lora: Lora, name) -> LoraShape:
    """The (rank, alpha) of a LoRA whose modules share one rank and one scale, as ours do."""
    ranks, scales = {m.rank for m in lora.modules}, {m.scale for m in lora.modules}
    if len(ranks) != 1 or max(scales) - min(scales) > 1e-6 * max(1.0, max(scales)):
        raise LoraMismatchError(f"{name}: modules of ranks {sorted(ranks)} and scales {sorted(scales)}; "
                                "a shard needs one rank and one alpha per LoRA")
    rank = ranks.pop()
    return LoraShape(rank, lora.modules[0].scale * rank)


def load_shard(pipeline, loras: list[Lora], names: list[str]) -> BatchedLora:
    """Hook all LoRAs into the pipeline's UNet (slot k = loras[k]); each must fit and change the UNet."""
    unet = pipeline.unet
    for lora, name in zip(loras, names):
        try:
            check_lora_fits(unet, lora)
        except LoraMismatchError as err:
            raise LoraMismatchError(f"{name}: {err}") from None
    paths = [m.path for m in loras[0].modules]
    for lora, name in zip(loras, names):
        if sorted(m.path for m in lora.modules) != sorted(paths):
            raise LoraMismatchError(f"{name}: adapts other modules than {names[0]} (one zoo per shard)")
    without = unet_probe(pipeline, copies=len(loras))  # the same batch size: a zero ΔW gives equal bits
    shard = BatchedLora(unet, paths, [lora_shape(lora, name) for lora, name in zip(loras, names)])
    for k, lora in enumerate(loras):
        shard.load(k, lora)
    shard.router.index = torch.arange(len(loras), device=unet.device)
    probes = unet_probe(pipeline, copies=len(loras))
    shard.router.index = None
    for name, base, probe in zip(names, without, probes):
        if torch.equal(base, probe):
            shard.detach()
            raise LoraMismatchError(f"{name}: loading the LoRA leaves the UNet's output unchanged (B is zero?)")
    return shard


def load_lora_into(pipeline, lora_dir: str | Path, lora: Lora) -> None:
    """diffusers' own loader (it reads alpha from the adapter metadata), then the checks above."""
    check_lora_fits(pipeline.unet, lora)
    without = unet_probe(pipeline)
    pipeline.load_lora_weights(str(lora_dir), adapter_name=ADAPTER_NAME)
    check_lora_placed(pipeline.unet, lora, lora_dir)
    if torch.equal(without, unet_probe(pipeline)):
        raise LoraMismatchError(f"{lora_dir}: loading the LoRA leaves the UNet's output unchanged (B is zero?)")


def place_pipeline(pipeline, device: torch.device, precision: str = "fp32"):
    """The pipeline on `device`, cast to the zoo's half dtype in fp16 or bf16 (how images are
    generated on a GPU); in fp32 only moved. Loaded LoRAs stay float32 (batched_lora)."""
    from lolzoo.runtime import weight_dtype

    dtype = weight_dtype(precision)
    return pipeline.to(device) if dtype is None else pipeline.to(device, dtype)


def use_sampler(pipeline, sampler: str) -> None:
    """Sample with `sampler` ("base": the pipeline's own scheduler), built from the pipeline's
    scheduler config so that the noise schedule stays the base's."""
    if sampler == "base":
        return
    import diffusers

    if sampler not in SAMPLER_CLASSES:
        raise LolzooError(f"sampler {sampler!r} is not known (known: {', '.join(SAMPLERS)})")
    pipeline.scheduler = getattr(diffusers, SAMPLER_CLASSES[sampler]).from_config(pipeline.scheduler.config)


@torch.no_grad()
def generate(pipeline, shard: BatchedLora, settings: EvaluationSettings, show_progress: bool = False,
             images_per_batch: int | None = None) -> torch.Tensor:
    """(K, images_per_prompt × len(prompts), 3, H, W) in [0, 1]: per LoRA, image j of every prompt
    (in prompt order), j = 0, 1, ...; each image from its prompt's seeded noise (settings.image_seeds).
    images_per_batch: samples per pipeline call (default: images_per_call)."""
    device = pipeline.unet.device
    images_per_batch = images_per_batch or images_per_call(pipeline)
    pipeline.set_progress_bar_config(disable=not show_progress, leave=False)
    prompts = list(settings.prompts)
    items = [(k, prompt, seed) for k in range(len(shard)) for seed in settings.image_seeds() for prompt in prompts]
    chunks = []
    try:
        for start in range(0, len(items), images_per_batch):
            chunk = items[start:start + images_per_batch]
            shard.router.index = torch.tensor([k for k, _, _ in chunk], device=device)
            generators = [torch.Generator(device).manual_seed(seed) for _, _, seed in chunk]
            output = pipeline([prompt for _, prompt, _ in chunk], num_inference_steps=settings.steps,
                              guidance_scale=settings.guidance_scale, generator=generators, output_type="pt")
            chunks.append(output.images.float().cpu().clamp(0, 1))
    finally:
        shard.router.index = None
    images = torch.cat(chunks)
    return images.reshape(len(shard), len(items) // len(shard), *images.shape[1:])


class _NoLoras:
    """A one-slot stand-in for a BatchedLora that hooks nothing: `generate` then samples the base."""

    def __init__(self):
        self.router = Router()

    def __len__(self) -> int:
        return 1


def generate_base(pipeline, settings: EvaluationSettings, show_progress: bool = False) -> torch.Tensor:
    """(len(prompts), 3, H, W): the base's own images, from the same seeded noise as every LoRA's."""
    return generate(pipeline, _NoLoras(), settings, show_progress)[0]


def image_clip_scores(clip, images: torch.Tensor, prompts, images_per_batch: int = IMAGES_PER_BATCH) -> torch.Tensor:
    """(K, I × P): max(100 · cos(image, prompt), 0) of every image (images is (K, I × P, 3, H, W),
    as `generate` makes them), in batches of images_per_batch."""
    count, per_lora = images.shape[:2]
    if per_lora % len(prompts):
        raise ValueError(f"{per_lora} images per LoRA is not a whole number of images per each of {len(prompts)} prompts")
    flat, texts = images.flatten(0, 1), list(prompts) * (count * per_lora // len(prompts))
    scores = torch.cat([clip.clip_score(flat[start:start + images_per_batch], texts[start:start + images_per_batch])
                        for start in range(0, len(flat), images_per_batch)])
    return scores.reshape(count, per_lora)


def clip_scores(clip, images: torch.Tensor, prompts, images_per_batch: int = IMAGES_PER_BATCH) -> list[float]:
    """Per LoRA: the mean of its images' CLIP scores (image_clip_scores), the paper's label."""
    return [float(row.mean()) for row in image_clip_scores(clip, images, prompts, images_per_batch)]


def image_grid(images: torch.Tensor, columns: int = 4):
    """A PIL image of (N, 3, H, W) floats in [0, 1], `columns` per row."""
    import numpy as np
    from PIL import Image

    count, _, height, width = images.shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    grid = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    pixels = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    for number, image in enumerate(pixels):
        row, column = divmod(number, columns)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
    return Image.fromarray(grid)
