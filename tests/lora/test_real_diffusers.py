"""Files saved by diffusers itself read back with the right ΔW; ours load in diffusers with alpha kept."""

import json

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders.lora_pipeline import StableDiffusionLoraLoaderMixin
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

from lolzoo.lora import read_lora, write_diffusers, write_kohya
from lolzoo.lora.safetensors_io import read_header
from lolzoo.lora.testing import assert_same_deltas, assert_same_lora, random_lora

TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "conv1"]


def tiny_unet():
    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, attention_head_dim=2, norm_num_groups=4)


def lora_deltas(model, adapter):
    """ΔW of every LoRA layer as peft computes it (get_delta_weight), flattened like ours."""
    return {name: layer.get_delta_weight(adapter).reshape(layer.get_delta_weight(adapter).shape[0], -1)
            for name, layer in model.named_modules() if isinstance(layer, BaseTunerLayer) and adapter in layer.lora_A}


@pytest.fixture
def unet_with_lora():
    unet = tiny_unet()
    config = LoraConfig(r=2, lora_alpha=6, target_modules=TARGETS, rank_pattern={"conv1": 3}, alpha_pattern={"to_k": 1.0})
    unet.add_adapter(config)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator))
    return unet, config


def test_diffusers_training_script_output(tmp_path, unet_with_lora):
    """The way diffusers' train_dreambooth_lora saves: save_lora_weights with the adapter metadata."""
    unet, config = unet_with_lora
    StableDiffusionLoraLoaderMixin.save_lora_weights(
        tmp_path, unet_lora_layers=get_peft_model_state_dict(unet), unet_lora_adapter_metadata=config.to_dict())
    lora = read_lora(tmp_path)
    expected = lora_deltas(unet, "default")
    assert lora.source_format == "diffusers" and {m.component for m in lora.modules} == {"unet"}
    assert sorted(m.path for m in lora.modules) == sorted(expected)
    assert {m.alpha for m in lora.modules if m.path.endswith("to_k")} == {1.0}
    for module in lora.modules:
        torch.testing.assert_close(module.delta(), expected[module.path], rtol=1e-5, atol=1e-6, msg=module.path)


def test_our_file_loads_into_a_diffusers_unet_with_alpha(tmp_path, unet_with_lora):
    unet, _ = unet_with_lora
    StableDiffusionLoraLoaderMixin.save_lora_weights(
        tmp_path / "theirs", unet_lora_layers=get_peft_model_state_dict(unet),
        unet_lora_adapter_metadata=unet.peft_config["default"].to_dict())
    lora = read_lora(tmp_path / "theirs")
    write_kohya(lora, tmp_path / "k.safetensors")
    write_diffusers(read_lora(tmp_path / "k.safetensors"), tmp_path / "ours")

    fresh = tiny_unet()
    fresh.load_lora_adapter(str(tmp_path / "ours"), prefix="unet", adapter_name="ours",
                            weight_name="pytorch_lora_weights.safetensors")
    loaded, expected = lora_deltas(fresh, "ours"), lora_deltas(unet, "default")
    assert loaded.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(loaded[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_without_metadata_diffusers_and_we_agree_on_scale_one(tmp_path):
    lora = random_lora({("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"): (8, 8)}, rank=2, alpha=None)
    write_diffusers(lora, tmp_path / "d")
    fresh = tiny_unet()
    fresh.load_lora_adapter(str(tmp_path / "d"), prefix="unet", adapter_name="x",
                            weight_name="pytorch_lora_weights.safetensors")
    (loaded,) = lora_deltas(fresh, "x").values()
    torch.testing.assert_close(loaded, lora.modules[0].delta())


def test_model_level_save_has_top_level_metadata(tmp_path, unet_with_lora):
    """UNet.save_lora_adapter writes un-prefixed keys and the plain LoraConfig as metadata."""
    unet, _ = unet_with_lora
    unet.save_lora_adapter(str(tmp_path), adapter_name="default")
    lora = read_lora(tmp_path / "pytorch_lora_weights.safetensors")
    expected = lora_deltas(unet, "default")
    assert {m.component for m in lora.modules} == {""}
    for module in lora.modules:
        torch.testing.assert_close(module.delta(), expected[module.path], rtol=1e-5, atol=1e-6)


# Older diffusers layouts, written by hand -----------------------------------------------------

def _pair(generator, out=8, inp=6, r=2):
    return torch.randn(r, inp, generator=generator), torch.randn(out, r, generator=generator)


def test_legacy_key_layouts_share_keys_with_the_new_one(tmp_path):
    g = torch.Generator().manual_seed(0)
    attn = "down_blocks.0.attentions.0.transformer_blocks.0.attn1"
    te = "text_model.encoder.layers.0.self_attn"
    (d1, u1), (d2, u2), (d3, u3), (d4, u4), (d5, u5) = (_pair(g) for _ in range(5))
    legacy = {
        # lora.down / lora.up (diffusers 0.2x)
        f"unet.{attn}.to_k.lora.down.weight": d1, f"unet.{attn}.to_k.lora.up.weight": u1,
        # attention processors (oldest): to_out_lora -> to_out.0
        f"unet.{attn}.processor.to_q_lora.down.weight": d2, f"unet.{attn}.processor.to_q_lora.up.weight": u2,
        f"unet.{attn}.processor.to_out_lora.down.weight": d3, f"unet.{attn}.processor.to_out_lora.up.weight": u3,
        # text encoder, old style: to_q_lora means q_proj; lora_linear_layer
        f"text_encoder.{te}.to_q_lora.down.weight": d4, f"text_encoder.{te}.to_q_lora.up.weight": u4,
        f"text_encoder.{te}.v_proj.lora_linear_layer.down.weight": d5,
        f"text_encoder.{te}.v_proj.lora_linear_layer.up.weight": u5,
        # a kohya-style alpha converted by diffusers
        f"unet.{attn}.to_k.alpha": torch.tensor(4.0),
    }
    save_file(legacy, str(tmp_path / "old.safetensors"))
    lora = read_lora(tmp_path / "old.safetensors")
    assert [m.name for m in lora.modules] == [
        f"text_encoder.{te}.q_proj", f"text_encoder.{te}.v_proj",
        f"unet.{attn}.to_k", f"unet.{attn}.to_out.0", f"unet.{attn}.to_q"]
    assert [m.alpha for m in lora.modules] == [None, None, 4.0, None, None]
    assert torch.equal(lora.modules[3].U, u3) and torch.equal(lora.modules[3].V, d3.T)

    write_diffusers(lora, tmp_path / "new")
    new = read_lora(tmp_path / "new")
    assert_same_lora(lora, new, alpha_none_is_rank=True)  # alpha of to_k forces metadata, None -> rank
    assert f"unet.{attn}.to_out.0.lora_A.weight" in read_header(tmp_path / "new" / "pytorch_lora_weights.safetensors")
    metadata = json.loads(new.metadata["file_metadata"]["lora_adapter_metadata"])
    assert metadata["unet.lora_alpha"] == 2 and metadata["unet.alpha_pattern"] == {f"{attn}.to_k": 4}


def test_diffusers_and_kohya_keys_match(tmp_path, pipeline_lora):
    write_diffusers(pipeline_lora, tmp_path / "d")
    write_kohya(pipeline_lora, tmp_path / "k.safetensors")
    a, b = read_lora(tmp_path / "d"), read_lora(tmp_path / "k.safetensors")
    assert [m.key for m in a.modules] == [m.key for m in b.modules]
    assert a.modules[0].key == "text_encoder_text_model_encoder_layers_0_self_attn_q_proj"
    assert_same_deltas(a, b)
