"""The default world's diffusion base: a tiny Stable-Diffusion-1.x-shaped pipeline built offline.

Same component classes and module names as SD 1.x (UNet2DConditionModel with cross-attention
blocks, AutoencoderKL, CLIPTextModel, a CLIP BPE tokenizer, SD 1.x's noise schedule), only
narrower: 32×32 RGB images, 16×16×4 latents. So a DreamBooth LoRA of this base targets the
same `to_q`/`to_k`/`to_v`/`to_out.0` modules as one of SD 1.4, and the same code trains both.

The weights are random (a pure function of the seed); pretraining is a separate step.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from lolzoo.bases.tokenizer import MAX_LENGTH, load_tokenizer, write_tokenizer

# SD 1.x's noise schedule (CompVis/stable-diffusion-v1-4 scheduler_config.json)
SD1_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                    beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
                    steps_offset=1, prediction_type="epsilon")


@dataclass(frozen=True)
class TinySDConfig:
    image_size: int = 32
    latent_channels: int = 4
    # UNet: two levels, cross-attention at both (SD 1.x has four, the last without attention;
    # at 16×16 latents each level's attention is where the prompt gets in)
    unet_channels: tuple[int, ...] = (32, 64)
    unet_layers_per_block: int = 1
    # two heads, not SD's eight: on a CPU, attention with 4-wide heads costs a third of the
    # training step more than with 16-wide ones (measured), for no better samples
    unet_attention_heads: int = 2
    unet_norm_groups: int = 16
    # Also add an attention-pooled summary of the prompt to the timestep embedding (diffusers'
    # addition_embed_type="text"), so every ResNet block sees the prompt, not only the
    # cross-attention layers. Measured: through cross-attention alone the tiny UNet had not
    # learned which digit a prompt names after 1,300 steps.
    unet_text_time_embedding: bool = True
    # VAE: one downsampling, 32×32 -> 16×16
    vae_channels: tuple[int, ...] = (32, 64)
    vae_layers_per_block: int = 1
    vae_norm_groups: int = 16
    # SD 1.x's latent scale; pretraining the VAE should replace it with 1 / std of its latents
    vae_scaling_factor: float = 0.18215
    # text encoder
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_intermediate: int = 256

    @classmethod
    def from_dict(cls, values: dict | None) -> "TinySDConfig":
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown tiny-sd config keys: {sorted(unknown)}")
        for key in ("unet_channels", "vae_channels"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def latent_size(self) -> int:
        return self.image_size // 2 ** (len(self.vae_channels) - 1)


@contextmanager
def seeded(seed: int, component: int):
    """Each component draws from its own stream, so changing one's shape leaves the others' weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed * 1000 + component)
        yield


def build_unet(config: TinySDConfig, cross_attention_dim: int):
    from diffusers import UNet2DConditionModel

    levels = len(config.unet_channels)
    return UNet2DConditionModel(
        sample_size=config.latent_size,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        down_block_types=("CrossAttnDownBlock2D",) * levels,
        up_block_types=("CrossAttnUpBlock2D",) * levels,
        block_out_channels=config.unet_channels,
        layers_per_block=config.unet_layers_per_block,
        norm_num_groups=config.unet_norm_groups,
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=config.unet_attention_heads,  # SD 1.x's legacy name: it is the number of heads
        addition_embed_type="text" if config.unet_text_time_embedding else None,
        addition_embed_type_num_heads=config.unet_attention_heads,
    )


def build_vae(config: TinySDConfig):
    from diffusers import AutoencoderKL

    levels = len(config.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=config.vae_channels,
        layers_per_block=config.vae_layers_per_block,
        norm_num_groups=config.vae_norm_groups,
        latent_channels=config.latent_channels,
        sample_size=config.image_size,
        scaling_factor=config.vae_scaling_factor,
    )


def build_text_encoder(config: TinySDConfig, tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=config.text_hidden,
        intermediate_size=config.text_intermediate, num_hidden_layers=config.text_layers,
        num_attention_heads=config.text_heads, max_position_embeddings=MAX_LENGTH,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # open_clip's exact GELU, not OpenAI CLIP's quick GELU: the tiny CLIP's text tower is
        # copied into this encoder before pretraining (lolzoo.bases.clip_text_encoder)
        hidden_act="gelu")
    return CLIPTextModel(text_config).eval()


def sampling_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(**SD1_SCHEDULE)


def training_scheduler(pipeline):
    """The DDPM scheduler that training adds noise with, on the pipeline's own schedule."""
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(pipeline.scheduler.config)


def build_tiny_sd(seed: int, config: TinySDConfig | dict | None = None):
    """A StableDiffusionPipeline with random weights that are a pure function of (seed, config)."""
    if not isinstance(config, TinySDConfig):
        config = TinySDConfig.from_dict(config)
    return seeded_pipeline(seed, lambda tokenizer: build_text_encoder(config, tokenizer), lambda: build_vae(config),
                           lambda: build_unet(config, cross_attention_dim=config.text_hidden), sampling_scheduler())


def seeded_pipeline(seed: int, text_encoder, vae, unet, scheduler):
    """A StableDiffusionPipeline of the project's offline CLIP BPE tokenizer and the components
    the builders make (text_encoder(tokenizer), vae(), unet()), each on its own seed stream."""
    from diffusers import StableDiffusionPipeline

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(write_tokenizer(Path(tmp) / "tokenizer"))
    with seeded(seed, 1):
        text_encoder = text_encoder(tokenizer).eval()
    with seeded(seed, 2):
        vae = vae()
    with seeded(seed, 3):
        unet = unet()
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def save_tiny_sd(pipeline, folder: str | Path) -> None:
    pipeline.save_pretrained(str(folder), safe_serialization=True)


def load_tiny_sd(folder: str | Path):
    """Load a saved pipeline from a local folder (never the hub)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(
        str(folder), local_files_only=True, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)


def parameter_counts(pipeline) -> dict[str, int]:
    return {name: sum(p.numel() for p in getattr(pipeline, name).parameters())
            for name in ("unet", "vae", "text_encoder")}
