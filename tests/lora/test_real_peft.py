"""LoRAs made by real peft read back with the ΔW peft itself merges, and ours load in peft."""

import copy

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils.other import get_pattern_key as peft_get_pattern_key
from torch import nn

from lolzoo.lora import read_lora, write_diffusers, write_kohya, write_peft
from lolzoo.lora.peft_config import get_pattern_key
from lolzoo.lora.testing import assert_same_deltas


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"q_proj": nn.Linear(12, 16), "v_proj": nn.Linear(12, 16, bias=False)}) for _ in range(2))
        self.conv1 = nn.Conv2d(4, 6, 3)
        self.conv_shortcut = nn.Conv2d(4, 6, 1)


def tiny(seed=0):
    torch.manual_seed(seed)
    return Tiny()


def randomise_lora_b(model, seed=1):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator))


def merged_deltas(peft_model, base):
    """ΔW per module, as peft merges it: merge_and_unload() weights minus the base weights."""
    merged = copy.deepcopy(peft_model).merge_and_unload()
    base_weights = dict(base.named_parameters())
    return {name.removesuffix(".weight"): param.detach() - base_weights[name].detach()
            for name, param in merged.named_parameters()
            if name.endswith(".weight") and not torch.equal(param, base_weights[name])}


CONFIGS = {
    "plain": dict(r=4, lora_alpha=8),
    "patterns": dict(r=4, lora_alpha=8, rank_pattern={"blocks.1.q_proj": 2, "conv1": 3},
                     alpha_pattern={"v_proj": 5.0, "conv_shortcut": 1}),
    "rslora": dict(r=4, lora_alpha=3, use_rslora=True, rank_pattern={"conv1": 2}),
}


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_peft_saved_adapter_gives_peft_merged_delta(tmp_path, config_name):
    base = tiny()
    config = LoraConfig(target_modules=["q_proj", "v_proj", "conv1", "conv_shortcut"], **CONFIGS[config_name])
    model = get_peft_model(copy.deepcopy(base), config)
    randomise_lora_b(model)
    model.save_pretrained(tmp_path / "adapter")

    lora = read_lora(tmp_path / "adapter")
    expected = merged_deltas(model, base)
    assert sorted(m.path for m in lora.modules) == sorted(expected)
    for module in lora.modules:
        delta = module.delta()
        if module.conv_kernel:
            delta = delta.reshape(expected[module.path].shape)
        torch.testing.assert_close(delta, expected[module.path], rtol=1e-5, atol=1e-5, msg=module.path)
    conv = next(m for m in lora.modules if m.path == "conv1")
    assert conv.conv_kernel == (3, 3) and conv.V.shape == (4 * 9, conv.rank)


def test_our_peft_folder_loads_in_peft(tmp_path):
    """write_peft output (rank/alpha patterns included) loads with PeftModel.from_pretrained and merges to our ΔW."""
    base = tiny()
    model = get_peft_model(copy.deepcopy(base), LoraConfig(target_modules=["q_proj", "v_proj", "conv1", "conv_shortcut"],
                                                          **CONFIGS["patterns"]))
    randomise_lora_b(model)
    model.save_pretrained(tmp_path / "theirs")
    ours = read_lora(tmp_path / "theirs")
    write_kohya(ours, tmp_path / "k.safetensors")  # through another format and back to PEFT
    write_peft(read_lora(tmp_path / "k.safetensors"), tmp_path / "ours")

    reloaded = PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "ours")
    expected = merged_deltas(model, base)
    assert merged_deltas(reloaded, base).keys() == expected.keys()
    for name, delta in merged_deltas(reloaded, base).items():
        torch.testing.assert_close(delta, expected[name], rtol=1e-5, atol=1e-5)


def test_peft_dreambooth_layout_with_component_subfolders(tmp_path):
    """peft's DreamBooth example saves unet/ and text_encoder/ adapters side by side."""
    unet, text = tiny(0), tiny(1)
    for name, base in (("unet", unet), ("text_encoder", text)):
        model = get_peft_model(copy.deepcopy(base), LoraConfig(r=2, lora_alpha=2, target_modules=["q_proj"]))
        randomise_lora_b(model, seed=len(name))
        model.save_pretrained(tmp_path / "db" / name)
    lora = read_lora(tmp_path / "db")
    assert [m.name for m in lora.modules] == ["text_encoder.blocks.0.q_proj", "text_encoder.blocks.1.q_proj",
                                              "unet.blocks.0.q_proj", "unet.blocks.1.q_proj"]
    write_diffusers(lora, tmp_path / "diff")
    assert_same_deltas(lora, read_lora(tmp_path / "diff"))


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # transformers, inside peft
def test_tiny_qwen2_adapter(tmp_path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    base = Qwen2ForCausalLM(config)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                           task_type="CAUSAL_LM"))
    randomise_lora_b(model)
    model.save_pretrained(tmp_path / "qwen")
    lora = read_lora(tmp_path / "qwen")
    assert lora.modules[0].path == "model.layers.0.self_attn.q_proj" and lora.modules[0].component == ""
    expected = merged_deltas(model, base)
    assert {m.path for m in lora.modules} == set(expected)
    for module in lora.modules:
        torch.testing.assert_close(module.delta(), expected[module.path], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("patterns, key", [
    (["q_proj", "blocks.1.q_proj"], "blocks.1.q_proj"),
    (["blocks.1.q_proj", "q_proj"], "blocks.1.q_proj"),
    (["a.b"], "x.a_b"),
    (["v_proj"], "blocks.0.v_proj"),
    (["conv"], "conv1"),
    ([r"blocks\.0\.q_proj"], "blocks.0.q_proj"),
])
def test_pattern_rule_is_peft_rule(patterns, key):
    assert get_pattern_key(patterns, key) == peft_get_pattern_key(patterns, key)
