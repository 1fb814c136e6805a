"""The tiny CLIP's text tower copied into the tiny pipeline's CLIPTextModel computes exactly what
open_clip computes, and a text encoder of another shape is refused with the differences named."""

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel

from lolzoo.bases.clip_text_encoder import check_compatible, load_clip_text_tower
from lolzoo.bases.tiny_clip import build_tiny_clip
from lolzoo.bases.tiny_sd import build_tiny_sd

PROMPTS = ["a photo of the digit seven", "a photo of a smiling old man with glasses and a hat", ""]


@torch.no_grad()
def open_clip_token_states(clip, ids: torch.Tensor) -> torch.Tensor:
    """open_clip's per-token text states before pooling: what SD conditions on."""
    model = clip.model
    x = model.token_embedding(ids) + model.positional_embedding
    return model.ln_final(model.transformer(x, attn_mask=model.attn_mask))


def test_copied_tower_matches_open_clip_token_states_and_pooled_embedding():
    clip, pipeline = build_tiny_clip(3), build_tiny_sd(0)
    ids = clip.tokenize(PROMPTS)
    with torch.no_grad():
        before = pipeline.text_encoder(ids)[0]
    load_clip_text_tower(pipeline.text_encoder, clip)
    with torch.no_grad():
        states = pipeline.text_encoder(ids)[0]
        pooled = states[torch.arange(len(ids)), (ids == clip.tokenizer.eos_token_id).int().argmax(dim=1)]
        embedded = clip.model.encode_text(ids)
    expected = open_clip_token_states(clip, ids)
    assert not torch.allclose(before, expected, atol=1e-3)  # the copy changed something
    torch.testing.assert_close(states, expected, rtol=0, atol=1e-5)
    # pooling at the first <|endoftext|> and projecting gives open_clip's text embedding
    torch.testing.assert_close(pooled @ clip.model.text_projection, embedded, rtol=0, atol=1e-5)


def test_text_encoder_of_another_shape_is_refused_naming_the_differences():
    clip = build_tiny_clip(0)
    wrong = CLIPTextModel(CLIPTextConfig(vocab_size=len(clip.tokenizer), hidden_size=32, intermediate_size=128,
                                         num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
                                         hidden_act="quick_gelu"))
    with pytest.raises(ValueError, match="^the text encoder is not the shape of the CLIP text tower: ") as err:
        check_compatible(clip, wrong)
    assert "hidden_size 32 (CLIP has 64)" in str(err.value) and "hidden_act quick_gelu (CLIP has gelu)" in str(err.value)
    with pytest.raises(ValueError, match="not the shape"):
        load_clip_text_tower(wrong, clip)
