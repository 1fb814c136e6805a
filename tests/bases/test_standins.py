"""The paper world's stand-in architectures (issue 20): built on the meta device, each has the
real model's published parameter count and the shapes the paper's LoRAs adapt."""

import pytest

from lolzoo.bases.standins import PUBLISHED_PARAMETERS, meta_models


@pytest.fixture(scope="module")
def models():
    return meta_models()


def test_every_stand_in_has_the_published_parameter_count(models):
    counts = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    assert counts == PUBLISHED_PARAMETERS


def test_sd14_lora_targets_multiply_out_to_the_papers_size(models):
    """Dense (ΔW multiplied out) on SD 1.4's to_q/to_v: 64 matrices, 46,755,840 numbers."""
    targets = [(name, mod.weight.shape) for name, mod in models["sd14-unet"].named_modules()
               if name.endswith(("to_q", "to_v"))]
    assert len(targets) == 64
    assert sum(shape.numel() for _, shape in targets) == 46_755_840
    cross_v = dict(targets)["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v"]
    assert tuple(cross_v) == (320, 768)  # cross attention reads the 768-wide text states


def test_qwen2_keys_and_values_are_grouped(models):
    attention = models["qwen2-1.5b"].model.layers[0].self_attn
    assert tuple(attention.q_proj.weight.shape) == (1536, 1536)
    assert tuple(attention.k_proj.weight.shape) == tuple(attention.v_proj.weight.shape) == (256, 1536)  # 2 kv heads
    assert len(models["qwen2-1.5b"].model.layers) == 28


def test_nothing_is_allocated(models):
    assert all(p.is_meta for model in models.values() for p in model.parameters())
