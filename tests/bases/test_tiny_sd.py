"""The tiny SD-1.x-shaped pipeline: SD 1.x module names, offline save/load, sampling, determinism."""

import re
import time

import numpy as np
import pytest
import torch

from lolzoo.bases.tiny_sd import (TinySDConfig, build_tiny_sd, load_tiny_sd, parameter_counts,
                                  save_tiny_sd, training_scheduler)

# SD 1.x's attention projections, e.g. down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k
SD1_ATTENTION = re.compile(r"^(down_blocks\.\d|up_blocks\.\d|mid_block)\.attentions\.\d\."
                           r"transformer_blocks\.0\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$")
PROMPT = "a photo of the digit seven"


@pytest.fixture(scope="module")
def pipeline():
    return build_tiny_sd(seed=0)


@pytest.fixture(scope="module")
def saved(pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_sd")
    save_tiny_sd(pipeline, folder)
    return folder


def sample(pipe, steps=2, prompt=PROMPT):
    generator = torch.Generator().manual_seed(42)
    return pipe(prompt, num_inference_steps=steps, generator=generator, guidance_scale=5.0,
                output_type="np").images


def test_parameter_counts(pipeline):
    counts = parameter_counts(pipeline)
    print("tiny-sd parameters:", counts)
    assert 0.5e6 < counts["unet"] < 2e6
    assert 0.5e6 < counts["vae"] < 1e6
    assert counts["text_encoder"] < 0.5e6


def test_attention_projections_are_named_like_sd1(pipeline):
    projections = [name for name, module in pipeline.unet.named_modules()
                   if isinstance(module, torch.nn.Linear) and re.search(r"\.(to_[qkv]|to_out\.0)$", name)]
    assert projections and all(SD1_ATTENTION.match(name) for name in projections)
    # self- and cross-attention in each of the 7 transformer blocks (2 down, 4 up, 1 mid)
    assert len(projections) == 7 * 2 * 4
    assert pipeline.unet.config.cross_attention_dim == pipeline.text_encoder.config.hidden_size


@pytest.mark.parametrize("targets, expected", [(["to_q", "to_v"], 28), (["to_q", "to_k", "to_v", "to_out.0"], 56)])
def test_peft_lora_finds_the_sd1_targets(targets, expected):
    from peft import LoraConfig, get_peft_model

    unet = build_tiny_sd(seed=0).unet
    model = get_peft_model(unet, LoraConfig(r=4, lora_alpha=4, target_modules=targets))
    adapted = [name for name, module in model.named_modules() if hasattr(module, "lora_A") and len(module.lora_A)]
    assert len(adapted) == expected


def test_two_step_sampling_gives_a_32x32_rgb_image(pipeline):
    images = sample(pipeline, steps=2)
    assert images.shape == (1, 32, 32, 3)
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def test_save_load_round_trip_offline_gives_identical_outputs(pipeline, saved):
    loaded = load_tiny_sd(saved)
    assert loaded.safety_checker is None and loaded.feature_extractor is None
    assert loaded.tokenizer(PROMPT).input_ids == pipeline.tokenizer(PROMPT).input_ids
    for name in ("unet", "vae", "text_encoder"):
        mine, theirs = getattr(pipeline, name).state_dict(), getattr(loaded, name).state_dict()
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    np.testing.assert_array_equal(sample(loaded), sample(pipeline))


def test_same_seed_same_weights_bitwise(pipeline):
    again, other = build_tiny_sd(seed=0), build_tiny_sd(seed=1)
    for name in ("unet", "vae", "text_encoder"):
        mine = getattr(pipeline, name).state_dict()
        assert all(torch.equal(v, getattr(again, name).state_dict()[k]) for k, v in mine.items())
        assert not all(torch.equal(v, getattr(other, name).state_dict()[k]) for k, v in mine.items())


def test_changing_one_component_leaves_the_others(pipeline):
    wider_vae = build_tiny_sd(seed=0, config={"vae_channels": [16, 32]})
    assert all(torch.equal(v, wider_vae.unet.state_dict()[k]) for k, v in pipeline.unet.state_dict().items())


def test_schedules_are_sd1(pipeline):
    for scheduler in (pipeline.scheduler, training_scheduler(pipeline)):
        config = scheduler.config
        assert (config.beta_schedule, config.beta_start, config.beta_end, config.num_train_timesteps) == \
            ("scaled_linear", 0.00085, 0.012, 1000)
    assert type(training_scheduler(pipeline)).__name__ == "DDPMScheduler"


def test_latents_are_16x16x4(pipeline):
    latents = pipeline.vae.encode(torch.zeros(1, 3, 32, 32)).latent_dist.mean
    assert latents.shape == (1, 4, 16, 16)


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="unet_chanels"):
        TinySDConfig.from_dict({"unet_chanels": [8, 16]})


def test_time_per_sampling_step(pipeline):
    sample(pipeline, steps=1)  # warm-up
    start = time.perf_counter()
    sample(pipeline, steps=4)
    per_step = (time.perf_counter() - start) / 4
    print(f"tiny-sd sampling: {per_step * 1000:.0f} ms per step (batch 1, classifier-free guidance)")
    assert per_step < 2.0
