"""Pretrain the tiny open_clip on (image, caption) pairs with CLIP's symmetric contrastive loss.

A batch holds many images with the same caption (ten digit captions; face captions repeat
too), and CLIP's loss would then punish the model for matching an image with an identical
caption of another row. So the targets are soft: each image's target spreads evenly over every
row of the batch with the same caption, and vice versa (equal to CLIP's one-hot loss when all
captions differ).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_loop import train_within_budget
from lolzoo.bases.tiny_clip import TinyClip


def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor,
                     caption_ids: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy of the image-text similarity matrix against same-caption targets."""
    logits = logit_scale * image_features @ text_features.T
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    targets = same / same.sum(dim=1, keepdim=True)
    image_to_text = torch.sum(-targets * F.log_softmax(logits, dim=1), dim=1).mean()
    text_to_image = torch.sum(-targets * F.log_softmax(logits.T, dim=1), dim=1).mean()
    return (image_to_text + text_to_image) / 2


def clip_batch_loss(clip: TinyClip, images: torch.Tensor, tokens: torch.Tensor, caption_ids: torch.Tensor):
    """`images` in [0, 1]; open_clip's forward returns unit features and exp(logit_scale)."""
    image_features, text_features, logit_scale = clip.model(clip.preprocess(images), tokens)[:3]
    return contrastive_loss(image_features, text_features, logit_scale, caption_ids)


def train_clip(clip: TinyClip, images: torch.Tensor, captions: list[str], budget: Budget, seed: int = 0,
               batch_size: int = 128, learning_rate: float = 1e-3, log_every: int = 0) -> list[float]:
    """Train clip.model in place; `images` are (N, 3, H, W) in [-1, 1] as in the pretraining set."""
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    generator = torch.Generator().manual_seed(seed)
    pixels = (images + 1) / 2
    unique = sorted(set(captions))
    caption_ids = torch.tensor([unique.index(c) for c in captions])
    unique_tokens = clip.tokenize(unique)

    def batch_loss(index: torch.Tensor) -> torch.Tensor:
        batch = _augment(pixels[index], generator)
        return clip_batch_loss(clip, batch, unique_tokens[caption_ids[index]], caption_ids[index])

    @torch.no_grad()
    def clamp_temperature() -> None:  # CLIP clamps its temperature at 100
        clip.model.logit_scale.clamp_(0, 4.6052)

    return train_within_budget(clip.model, _random_batches(len(pixels), batch_size, generator), batch_loss, budget,
                               name="clip", learning_rate=learning_rate, weight_decay=0.1,
                               after_step=clamp_temperature, log_every=log_every)


def _random_batches(count: int, batch_size: int, generator: torch.Generator):
    """Endless batches of `batch_size` indices drawn uniformly, with replacement, from range(count)."""
    while True:
        yield torch.randint(count, (batch_size,), generator=generator)


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels: the diffusion samples CLIP will score are not pixel-aligned."""
    padded = F.pad(images, (2, 2, 2, 2), mode="replicate")
    dy, dx = torch.randint(5, (2,), generator=generator).tolist()
    return padded[..., dy:dy + images.shape[-2], dx:dx + images.shape[-1]]
