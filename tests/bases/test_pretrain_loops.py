"""Each pretraining loop lowers its loss on a few steps, the VAE sets its latent scale, and a
short run is a pure function of the seed (one thread, as tests/conftest.py sets)."""

import pytest
import torch

from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_clip import clip_batch_loss, contrastive_loss, train_clip
from lolzoo.bases.pretrain_data import captioned_images
from lolzoo.bases.pretrain_unet import (FINAL_LR_FRACTION, encode_prompts, learning_rate_factor, sampling_weights,
                                        train_unet)
from lolzoo.bases.pretrain_vae import latent_std, set_latent_scale, train_vae
from lolzoo.bases.tiny_clip import build_tiny_clip
from lolzoo.bases.tiny_sd import build_tiny_sd


@pytest.fixture(scope="module")
def data():
    return captioned_images(faces=8, digits=8)


def mean(values):
    return sum(values) / len(values)


def test_vae_loss_falls_and_latent_scale_is_one_over_std(data):
    pipeline = build_tiny_sd(0)
    losses = train_vae(pipeline.vae, data.images, Budget(steps=12), batch_size=16, learning_rate=2e-3)
    assert len(losses) == 12
    assert mean(losses[-3:]) < 0.9 * mean(losses[:3])
    scale = set_latent_scale(pipeline.vae, data.images)
    assert pipeline.vae.config.scaling_factor == pytest.approx(scale) and scale != 0.18215
    assert latent_std(pipeline.vae, data.images) * scale == pytest.approx(1.0, rel=1e-5)


@torch.no_grad()
def fixed_unet_loss(pipeline, data) -> float:
    """The noise-prediction loss on fixed noise and timesteps: comparable before and after training."""
    generator = torch.Generator().manual_seed(123)
    latents = pipeline.vae.encode(data.images).latent_dist.mean * pipeline.vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.linspace(50, 950, len(latents)).long()
    alphas = pipeline.scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    noisy = alphas.sqrt() * latents + (1 - alphas).sqrt() * noise
    prediction = pipeline.unet(noisy, timesteps, encoder_hidden_states=encode_prompts(pipeline, data.captions)).sample
    return float(torch.nn.functional.mse_loss(prediction, noise))


def test_unet_loss_falls_with_ema_weights(data):
    pipeline = build_tiny_sd(0)
    before = fixed_unet_loss(pipeline, data)
    text_before = [p.clone() for p in pipeline.text_encoder.parameters()]
    losses = train_unet(pipeline, data.images, data.captions, Budget(steps=15), batch_size=16, warmup_steps=1)
    assert len(losses) == 15
    assert fixed_unet_loss(pipeline, data) < 0.9 * before  # the saved (EMA) weights, not the raw ones
    assert not pipeline.unet.training and not pipeline.text_encoder.training
    # the text encoder learns with the UNet, and comes back frozen as a pipeline expects
    assert any(not torch.equal(a, b) for a, b in zip(text_before, pipeline.text_encoder.parameters()))
    assert not any(p.requires_grad for p in pipeline.text_encoder.parameters())


def test_frozen_text_encoder_stays_unchanged_while_the_unet_learns(data):
    pipeline = build_tiny_sd(0)
    text_before = [p.clone() for p in pipeline.text_encoder.parameters()]
    unet_before = [p.clone() for p in pipeline.unet.parameters()]
    losses = train_unet(pipeline, data.images, data.captions, Budget(steps=3), batch_size=8, warmup_steps=1,
                        train_text_encoder=False, domains=data.domains, domain_shares={"digit": 0.7})
    assert len(losses) == 3
    assert all(torch.equal(a, b) for a, b in zip(text_before, pipeline.text_encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(unet_before, pipeline.unet.parameters()))
    assert not pipeline.unet.training and not any(p.requires_grad for p in pipeline.unet.parameters())


def test_domain_shares_set_the_expected_batch_mix():
    domains = ["digit"] * 30 + ["face"] * 10
    weights = sampling_weights(domains, {"digit": 0.2})
    assert float(weights[:30].sum() / weights.sum()) == pytest.approx(0.2)
    assert torch.equal(sampling_weights(domains, None), torch.ones(40))
    drawn = torch.multinomial(weights, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    assert float((drawn < 30).float().mean()) == pytest.approx(0.2, abs=0.01)
    with pytest.raises(ValueError, match="no images of domain"):
        sampling_weights(domains, {"cat": 0.5})
    with pytest.raises(ValueError, match="positive share"):
        sampling_weights(domains, {"digit": 1.0})


def test_learning_rate_warms_up_then_decays_to_the_final_fraction():
    assert learning_rate_factor(0, 10, 100) == pytest.approx(0.1)
    assert learning_rate_factor(9, 10, 100) == pytest.approx((FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION)
                                                              * 0.5 * (1 + torch.cos(torch.tensor(0.09 * torch.pi)))).item())
    assert learning_rate_factor(50, 10, 100) == pytest.approx(FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) / 2)
    assert learning_rate_factor(100, 10, 100) == pytest.approx(FINAL_LR_FRACTION)
    factors = [learning_rate_factor(s, 10, 100) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    assert learning_rate_factor(500, 10, None) == 1.0  # a time budget: constant after warm-up


def test_unet_run_is_deterministic_for_a_seed(data):
    def run(seed):
        pipeline = build_tiny_sd(0)
        losses = train_unet(pipeline, data.images, data.captions, Budget(steps=2), seed=seed, batch_size=8)
        return losses, torch.cat([p.flatten() for p in pipeline.unet.parameters()])

    (losses_a, weights_a), (losses_b, weights_b), (losses_c, _) = run(1), run(1), run(2)
    assert losses_a == losses_b and torch.equal(weights_a, weights_b)
    assert losses_a != losses_c


def test_contrastive_targets_spread_over_identical_captions():
    features = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    unique = torch.arange(4)
    logits = 10.0 * features @ features.T
    clip_loss = (torch.nn.functional.cross_entropy(logits, unique) + torch.nn.functional.cross_entropy(logits.T, unique)) / 2
    assert contrastive_loss(features, features, torch.tensor(10.0), unique) == pytest.approx(float(clip_loss))
    # rows 0 and 1 share a caption: which of their texts an image matches must not matter
    shared = torch.tensor([0, 0, 1, 2])
    texts = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    swapped = texts[[1, 0, 2, 3]]
    assert contrastive_loss(features, texts, torch.tensor(10.0), shared) == pytest.approx(
        float(contrastive_loss(features, swapped, torch.tensor(10.0), shared)), rel=1e-5)


def test_clip_loss_falls(data):
    clip = build_tiny_clip(0)
    pixels = (data.images + 1) / 2
    unique = sorted(set(data.captions))
    ids = torch.tensor([unique.index(c) for c in data.captions])
    tokens = clip.tokenize(unique)[ids]
    with torch.no_grad():
        before = float(clip_batch_loss(clip, pixels, tokens, ids))
    # 40 steps: the image tower's BatchNorm statistics (what eval mode uses) settle too
    losses = train_clip(clip, data.images, data.captions, Budget(steps=40), batch_size=16, learning_rate=1e-3)
    with torch.no_grad():
        after = float(clip_batch_loss(clip, pixels, tokens, ids))
    assert len(losses) == 40 and after < 0.9 * before


def test_budget_needs_a_limit_and_always_runs_one_step():
    with pytest.raises(ValueError, match="^a budget needs steps, seconds or both$"):
        Budget()
    budget = Budget(seconds=1e-9).start()
    assert budget.allows(0) and not budget.allows(1)
