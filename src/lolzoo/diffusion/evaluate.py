"""Evaluate one LoRA: load it into the base, sample one image per prompt, CLIP-score the samples.

The CLIP score is the paper's: the mean over prompts of max(100 · cos(image, prompt), 0),
with one fixed seed so that every LoRA of a zoo starts from the same noise per prompt.
Before sampling we check that the LoRA fits the base (module paths and shapes) and that,
once loaded, it really changes the UNet's output: diffusers only warns about LoRA keys it
cannot place, and a silently ignored LoRA would label the base, not the LoRA.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lolzoo.diffusion.job import EvaluationSettings
from lolzoo.errors import LolzooError
from lolzoo.lora import Lora

ADAPTER_NAME = "evaluated"


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
def unet_probe(pipeline) -> torch.Tensor:
    """The UNet's output on one fixed input: compared with and without the adapter."""
    config = pipeline.unet.config
    generator = torch.Generator().manual_seed(0)
    device, dtype = pipeline.unet.device, pipeline.unet.dtype
    latents = torch.randn(1, config.in_channels, config.sample_size, config.sample_size, generator=generator)
    states = torch.randn(1, pipeline.tokenizer.model_max_length, config.cross_attention_dim, generator=generator)
    timestep = torch.tensor([500])
    return pipeline.unet(latents.to(device, dtype), timestep.to(device), states.to(device, dtype)).sample.float().cpu()


def load_lora_into(pipeline, lora_dir: str | Path, lora: Lora) -> None:
    """diffusers' own loader (it reads alpha from the adapter metadata), then the checks above."""
    check_lora_fits(pipeline.unet, lora)
    without = unet_probe(pipeline)
    pipeline.load_lora_weights(str(lora_dir), adapter_name=ADAPTER_NAME)
    check_lora_placed(pipeline.unet, lora, lora_dir)
    if torch.equal(without, unet_probe(pipeline)):
        raise LoraMismatchError(f"{lora_dir}: loading the LoRA leaves the UNet's output unchanged (B is zero?)")


@torch.no_grad()
def generate(pipeline, settings: EvaluationSettings, show_progress: bool = False) -> torch.Tensor:
    """(len(prompts), 3, H, W) in [0, 1]: one image per prompt, each from the same seeded noise."""
    device = pipeline.unet.device
    pipeline.set_progress_bar_config(disable=not show_progress, leave=False)
    generators = [torch.Generator(device).manual_seed(settings.seed) for _ in settings.prompts]
    output = pipeline(list(settings.prompts), num_inference_steps=settings.steps,
                      guidance_scale=settings.guidance_scale, generator=generators, output_type="pt")
    return output.images.float().cpu().clamp(0, 1)


def clip_score(clip, images: torch.Tensor, prompts) -> float:
    """Mean over prompts of max(100 · cos(image, prompt), 0)."""
    return float(clip.clip_score(images, list(prompts)).mean())


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
