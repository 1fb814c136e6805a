"""The paper world's bases at their true shapes, for stand-ins built offline (issue 20).

The paper world reads SD 1.4, CLIP ViT-B/16 and Qwen2-1.5B from their hubs, which this machine
cannot reach. Stand-ins with the published architectures and random weights let every rule of
that world run here: what they test is shapes, formats, memory and code paths, not quality.

The architectures are those of the published configs (CompVis/stable-diffusion-v1-4's
unet/vae/text_encoder config.json, open_clip's ViT-B-16 model config, Qwen/Qwen2-1.5B's
config.json). `parameter_counts` builds each one on the meta device (no memory, no weights) so
its size can be checked against the real model's published count, `PUBLISHED_PARAMETERS`.
"""

from __future__ import annotations

from lolzoo.bases.tiny_sd import SD1_SCHEDULE

SD14_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)
SD14_VAE = dict(
    in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
    act_fn="silu", latent_channels=4, norm_num_groups=32, sample_size=512,
)
SD14_TEXT_ENCODER = dict(  # CLIP ViT-L/14's text tower
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
)
SD14_SCHEDULER = SD1_SCHEDULE
OPEN_CLIP_MODEL = "ViT-B-16"  # open_clip's own config of it; the paper's CLIP scorer
QWEN2_1_5B = dict(
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
    num_key_value_heads=2, max_position_embeddings=131072, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=True, hidden_act="silu",
)

# the real models' parameter counts (their published weights, all tensors counted)
PUBLISHED_PARAMETERS = {
    "sd14-unet": 859_520_964,
    "sd14-vae": 83_653_863,
    "sd14-text-encoder": 123_060_480,
    "clip-vit-b-16": 149_620_737,
    "qwen2-1.5b": 1_543_714_304,
}


def meta_models(names=None) -> dict:
    """The named stand-in architectures (all of PUBLISHED_PARAMETERS by default) as modules on
    the meta device (shapes only, nothing allocated)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from open_clip import get_model_config
    from open_clip.model import CLIP
    from transformers import CLIPTextConfig, CLIPTextModel, Qwen2Config, Qwen2ForCausalLM

    builders = {
        "sd14-unet": lambda: UNet2DConditionModel(**SD14_UNET),
        "sd14-vae": lambda: AutoencoderKL(**SD14_VAE),
        "sd14-text-encoder": lambda: CLIPTextModel(CLIPTextConfig(**SD14_TEXT_ENCODER)),
        "clip-vit-b-16": lambda: CLIP(**get_model_config(OPEN_CLIP_MODEL)),
        "qwen2-1.5b": lambda: Qwen2ForCausalLM(Qwen2Config(**QWEN2_1_5B)),
    }
    with torch.device("meta"):
        return {name: builders[name]() for name in (builders if names is None else names)}


def parameter_counts(names=None) -> dict[str, int]:
    """Parameters of the named stand-in architectures (all by default), to set beside PUBLISHED_PARAMETERS."""
    return {name: sum(p.numel() for p in model.parameters()) for name, model in meta_models(names).items()}


def build_sd14(seed: int, unet: dict = SD14_UNET, vae: dict = SD14_VAE, text_encoder: dict = SD14_TEXT_ENCODER):
    """A StableDiffusionPipeline with SD 1.4's architecture and random weights (a function of
    seed). Its tokenizer is the project's offline CLIP BPE tokenizer in CLIP's file format (a
    smaller vocabulary than CLIP's 49,408, so its ids index the same embedding table); its
    scheduler is SD 1.4's PNDM on SD 1.x's noise schedule. Other component configs (the cost
    benchmark's small ones) give the same pipeline at other sizes."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from lolzoo.bases.tiny_sd import seeded_pipeline

    scheduler = PNDMScheduler(**{k: v for k, v in SD14_SCHEDULER.items() if k != "clip_sample"}, skip_prk_steps=True)
    return seeded_pipeline(seed, lambda _: CLIPTextModel(CLIPTextConfig(**text_encoder)),
                           lambda: AutoencoderKL(**vae).eval(), lambda: UNet2DConditionModel(**unet).eval(), scheduler)


def write_sd14(folder, seed: int = 0) -> None:
    """SD 1.4's diffusers folder layout (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
    scheduler/), random weights in safetensors: what `lolzoo fetch-base --role sd --path` places."""
    build_sd14(seed).save_pretrained(str(folder), safe_serialization=True)


# The stand-in tokenizer's BPE vocabulary (Qwen2's has 151,646 tokens). Trained on ARC's train
# questions it stops short of this and encodes ARC text in about as many tokens as a real
# tokenizer would; trained on the tiny LM's 1,024 it took 4-5 times more (a finetuning job then
# refused questions over 256 tokens).
LM_TOKENIZER_VOCAB = 32_000


def build_qwen2_1_5b(seed: int, texts: list[str]):
    """(model, tokenizer): Qwen2-1.5B's architecture with random weights (a function of seed) and
    a byte-level BPE tokenizer trained on `texts` (the tiny LM's trainer; its ids fit the
    151,936-row embedding table)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from lolzoo.bases.tiny_qwen2 import train_tokenizer
    from lolzoo.bases.tiny_sd import seeded

    tokenizer = train_tokenizer(texts, LM_TOKENIZER_VOCAB)
    config = Qwen2Config(**QWEN2_1_5B, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
                         dtype=torch.bfloat16)  # the published checkpoint's precision
    with seeded(seed, 1):
        model = Qwen2ForCausalLM(config).eval()
    return model, tokenizer


def write_qwen2_1_5b(folder, texts: list[str], seed: int = 0) -> None:
    """A Hugging Face causal-LM folder (config.json, safetensors shards, tokenizer files) in
    bfloat16, as Qwen/Qwen2-1.5B is published: what `lolzoo fetch-base --role lm --path` places."""
    import torch

    model, tokenizer = build_qwen2_1_5b(seed, texts)
    model.to(torch.bfloat16).save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))


def write_clip_vit_b_16(path, seed: int = 0) -> None:
    """One open_clip weights file (safetensors) of ViT-B/16 with random weights and the QuickGELU
    of OpenAI's weights: what `lolzoo fetch-base --role clip --name ViT-B-16/openai --path` places."""
    import open_clip
    from safetensors.torch import save_file

    from lolzoo.bases.tiny_sd import seeded

    with seeded(seed, 1):
        model = open_clip.create_model(OPEN_CLIP_MODEL, pretrained=None, force_quick_gelu=True).eval()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
