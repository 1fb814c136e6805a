"""The tiny open_clip model: embeds images and prompts, CLIP score in [0, 100], safetensors round trip."""

import pytest
import torch

from lolzoo.bases.tiny_clip import (CONFIG_FILE, WEIGHTS_FILE, build_tiny_clip, load_tiny_clip,
                                    parameter_count, save_tiny_clip)

# the untrained CLIP (seed 0) scores the first three below 0 and the last above: the clamp is seen both ways
PROMPTS = ["a photo of the digit seven", "a photo of a face with glasses", "a photo of sks_photo",
           "a photo of a smiling young woman"]


@pytest.fixture(scope="module")
def clip():
    return build_tiny_clip(seed=0)


@pytest.fixture(scope="module")
def images():
    return torch.rand(len(PROMPTS), 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_parameter_count(clip):
    counts = parameter_count(clip)
    print("tiny-clip parameters:", counts)
    assert counts["total"] < 2e6  # about 6 MB of float32 weights: small enough to ship


def test_embeds_images_and_prompts_as_unit_vectors(clip, images):
    image_embeddings, text_embeddings = clip.embed_images(images), clip.embed_texts(PROMPTS)
    assert image_embeddings.shape == text_embeddings.shape == (len(PROMPTS), 64)
    for emb in (image_embeddings, text_embeddings):
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(len(PROMPTS)))
    # prompts are really tokenised: every prompt embeds differently
    assert torch.cdist(text_embeddings, text_embeddings).triu(1)[torch.ones(4, 4).triu(1) > 0].min() > 1e-3


def test_clip_score_is_clamped_scaled_cosine(clip, images):
    scores = clip.clip_score(images, PROMPTS)
    cosine = (clip.embed_images(images) * clip.embed_texts(PROMPTS)).sum(-1)
    assert (cosine < 0).any() and (cosine > 0.01).any(), cosine  # else all-zero scores would pass
    assert scores.shape == (len(PROMPTS),)
    assert ((scores >= 0) & (scores <= 100)).all()
    torch.testing.assert_close(scores, (100 * cosine).clamp(min=0))


def test_clip_score_of_an_image_and_its_own_direction_is_high(clip, images):
    # a text tower rigged to return each image's own embedding reaches the upper bound, 100
    rigged = type(clip)(model=clip.model, model_config=clip.model_config, tokenizer=clip.tokenizer)
    rigged.embed_texts = lambda prompts: clip.embed_images(images)
    torch.testing.assert_close(rigged.clip_score(images, PROMPTS), torch.full((len(PROMPTS),), 100.0))


def test_larger_images_are_resized(clip):
    assert clip.embed_images(torch.rand(2, 3, 64, 64)).shape == (2, 64)


def test_mismatched_counts_are_an_error(clip, images):
    with pytest.raises(ValueError, match="prompts"):
        clip.clip_score(images, PROMPTS[:2])


def test_save_load_round_trip_gives_identical_embeddings(clip, images, tmp_path):
    save_tiny_clip(clip, tmp_path)
    assert (tmp_path / CONFIG_FILE).is_file() and (tmp_path / WEIGHTS_FILE).is_file()
    loaded = load_tiny_clip(tmp_path)
    assert torch.equal(loaded.embed_images(images), clip.embed_images(images))
    assert torch.equal(loaded.embed_texts(PROMPTS), clip.embed_texts(PROMPTS))


def test_same_seed_same_weights_bitwise(clip):
    again, other = build_tiny_clip(seed=0).model.state_dict(), build_tiny_clip(seed=1).model.state_dict()
    mine = clip.model.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in mine.items())
    assert not torch.equal(mine["token_embedding.weight"], other["token_embedding.weight"])
