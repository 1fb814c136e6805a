"""The default world's CLIP: a tiny open_clip model from our own model config, for CLIP scores.

Tokenisation uses our CLIP BPE tokenizer (lolzoo.bases.tokenizer), not open_clip's
SimpleTokenizer: that one ships its BPE inside the wheel and would work offline, but its
49,408-token vocabulary would make the embedding table alone 20× the rest of this model,
for words the stand-in domain never uses. The text tower pools at the <|endoftext|> id.

A saved model is a folder: open_clip_config.json (the model config), open_clip_model.safetensors
(the weights) and tokenizer/ (vocab.json, merges.txt).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lolzoo.bases.tokenizer import MAX_LENGTH, load_tokenizer, write_tokenizer

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
# OpenAI CLIP's image normalisation (open_clip.constants.OPENAI_DATASET_MEAN / _STD)
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)


def tiny_clip_model_config(vocab_size: int, eos_id: int, pad_id: int, image_size: int = 32,
                           embed_dim: int = 64, text_width: int = 64, text_layers: int = 2, text_heads: int = 4,
                           vision_width: int = 16, vision_head_width: int = 32) -> dict:
    """An open_clip model config (the shape of open_clip/model_configs/*.json), tiny.

    The image tower is open_clip's ModifiedResNet (the tower of OpenAI's RN50 CLIP), one
    bottleneck per stage: on randomly coloured digits it reads the shape within a few hundred
    steps (90% zero-shot digit accuracy after 300), where a ViT of the same cost stayed near
    chance (21% after 400; measured on this kind of machine).
    """
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "layers": [1, 1, 1, 1], "width": vision_width,
                       "head_width": vision_head_width},
        "text_cfg": {"context_length": MAX_LENGTH, "vocab_size": vocab_size, "width": text_width,
                     "heads": text_heads, "layers": text_layers, "mlp_ratio": 4.0,
                     "pool_type": "eos", "eos_id": eos_id, "pad_id": pad_id},
    }


def create_open_clip(model_config: dict):
    """open_clip.CLIP from a config dict: no model name, no registry, no download."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    return open_clip.CLIP(embed_dim=model_config["embed_dim"],
                          vision_cfg=CLIPVisionCfg(**model_config["vision_cfg"]),
                          text_cfg=CLIPTextCfg(**model_config["text_cfg"])).eval()


@dataclass
class TinyClip:
    """An open_clip model with its config and tokenizer: embeds images and prompts, scores pairs."""

    model: torch.nn.Module
    model_config: dict
    tokenizer: object

    @property
    def image_size(self) -> int:
        return self.model_config["vision_cfg"]["image_size"]

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(list(prompts), padding="max_length", max_length=MAX_LENGTH,
                              truncation=True, return_tensors="pt").input_ids

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) floats in [0, 1] -> normalised at the model's resolution."""
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size,) * 2, mode="bicubic", align_corners=False)
        mean = torch.tensor(IMAGE_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGE_STD, dtype=images.dtype).view(1, 3, 1, 1)
        return (images - mean) / std

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings of (N, 3, H, W) images in [0, 1]."""
        return self.model.encode_image(self.preprocess(images), normalize=True)

    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenize(prompts), normalize=True)

    @torch.no_grad()
    def clip_score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Per pair: max(100 · cos(image, prompt), 0), the CLIP score of Hessel et al. (2021)."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        cosine = (self.embed_images(images) * self.embed_texts(prompts)).sum(dim=-1)
        return (100 * cosine).clamp(min=0)


def build_tiny_clip(seed: int, **model_options) -> TinyClip:
    """A TinyClip with random weights, a pure function of (seed, options)."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(write_tokenizer(Path(tmp) / "tokenizer"))
    config = tiny_clip_model_config(vocab_size=len(tokenizer), eos_id=tokenizer.eos_token_id,
                                    pad_id=tokenizer.pad_token_id, **model_options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_open_clip(config)
    return TinyClip(model=model, model_config=config, tokenizer=tokenizer)


def save_tiny_clip(clip: TinyClip, folder: str | Path) -> None:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(clip.model_config, indent=2, sort_keys=True) + "\n")
    # contiguous copies: safetensors refuses views that share storage
    save_file({k: v.detach().contiguous() for k, v in clip.model.state_dict().items()},
              str(folder / WEIGHTS_FILE))
    clip.tokenizer.save_pretrained(str(folder / "tokenizer"))


def load_tiny_clip(folder: str | Path) -> TinyClip:
    from safetensors.torch import load_file

    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    model = create_open_clip(config)
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
    return TinyClip(model=model.eval(), model_config=config, tokenizer=load_tokenizer(folder / "tokenizer"))


def parameter_count(clip: TinyClip) -> dict[str, int]:
    visual = sum(p.numel() for p in clip.model.visual.parameters())
    total = sum(p.numel() for p in clip.model.parameters())
    return {"image_tower": visual, "text_tower_and_scale": total - visual, "total": total}
