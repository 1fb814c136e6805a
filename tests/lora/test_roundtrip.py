"""Write then read gives the same LoRA, in every format, and conversions agree on ΔW."""

import json

import pytest
import torch
from safetensors import safe_open

from lolzoo.lora import LoraFormatError, read_lora, write_diffusers, write_kohya, write_peft
from lolzoo.lora.testing import TEXT_Q, UNET_CONV, UNET_Q, assert_same_deltas, assert_same_lora, random_lora


def test_peft_round_trip(tmp_path, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "peft")
    assert sorted(p.name for p in (tmp_path / "peft").iterdir()) == ["text_encoder", "unet"]
    back = read_lora(tmp_path / "peft")
    assert back.source_format == "peft" and back.base_model == "tiny-sd"
    assert_same_lora(pipeline_lora, back)


def test_peft_single_model_round_trip(tmp_path, language_lora):
    write_peft(language_lora, tmp_path / "peft")
    config = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 16 and config["base_model_name_or_path"] == "tiny-qwen2"
    assert sorted(config["target_modules"]) == sorted(m.path for m in language_lora.modules)
    with safe_open(str(tmp_path / "peft" / "adapter_model.safetensors"), "pt") as handle:
        assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in handle.keys()
    back = read_lora(tmp_path / "peft")
    assert [m.path for m in back.modules][:3] == ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                                  "model.layers.1.self_attn.q_proj"]  # natural order: 10 after 1
    assert_same_lora(language_lora, back)


def test_peft_patterns_for_mixed_ranks_and_alphas(tmp_path, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "peft")
    config = json.loads((tmp_path / "peft" / "unet" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    assert config["rank_pattern"] == {UNET_CONV[1]: 2}
    assert config["alpha_pattern"] == {"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0": 4}


def test_diffusers_round_trip_keeps_alpha(tmp_path, pipeline_lora):
    write_diffusers(pipeline_lora, tmp_path / "diff")
    file = tmp_path / "diff" / "pytorch_lora_weights.safetensors"
    with safe_open(str(file), "pt") as handle:
        metadata = json.loads(handle.metadata()["lora_adapter_metadata"])
        assert f"unet.{UNET_Q[1]}.lora_A.weight" in handle.keys()
    assert metadata["unet.lora_alpha"] == 8 and metadata["text_encoder.lora_alpha"] == 1.5
    for path in (tmp_path / "diff", file):  # the folder or the file itself
        back = read_lora(path)
        assert back.source_format == "diffusers" and back.base_model == "tiny-sd"
        assert_same_lora(pipeline_lora, back)


def test_diffusers_without_alphas_keeps_none(tmp_path):
    lora = random_lora({("unet", "mid_block.attentions.0.proj_in"): (8, 8)}, alpha=None)
    write_diffusers(lora, tmp_path / "diff")
    back = read_lora(tmp_path / "diff")
    assert back.modules[0].alpha is None
    assert_same_lora(lora, back)


def test_diffusers_refuses_a_single_model_lora(tmp_path, language_lora):
    with pytest.raises(LoraFormatError, match="single-model adapter: write it as PEFT"):
        write_diffusers(language_lora, tmp_path / "diff")
    assert not (tmp_path / "diff").exists()


def test_kohya_round_trip(tmp_path, pipeline_lora):
    write_kohya(pipeline_lora, tmp_path / "k.safetensors")
    with safe_open(str(tmp_path / "k.safetensors"), "pt") as handle:
        keys = set(handle.keys())
        assert "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight" in keys
        assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha" in keys
        assert handle.get_tensor("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight").shape == (2, 4, 3, 3)
    back = read_lora(tmp_path / "k.safetensors")
    assert back.source_format == "kohya" and back.base_model == "tiny-sd"
    assert_same_lora(pipeline_lora, back)


def test_kohya_single_model_and_none_alpha(tmp_path, language_lora):
    lora = random_lora({m.path: (16, 12) for m in language_lora.modules}, alpha=None)
    write_kohya(lora, tmp_path / "k.safetensors")
    back = read_lora(tmp_path / "k.safetensors")
    assert all(m.alpha is None and m.component == "" for m in back.modules)
    assert_same_lora(lora, back)


def test_sdxl_kohya_uses_te1_te2(tmp_path):
    lora = random_lora({("text_encoder", "text_model.a"): (4, 4), ("text_encoder_2", "text_model.a"): (4, 4),
                        ("unet", "b"): (4, 4)}, rank=2)
    write_kohya(lora, tmp_path / "xl.safetensors")
    with safe_open(str(tmp_path / "xl.safetensors"), "pt") as handle:
        assert {k.split(".")[0] for k in handle.keys()} == {"lora_te1_text_model_a", "lora_te2_text_model_a", "lora_unet_b"}
    assert_same_lora(lora, read_lora(tmp_path / "xl.safetensors"))
    write_diffusers(lora, tmp_path / "xl")  # needs the SDXL mixin (text_encoder_2)
    assert_same_lora(lora, read_lora(tmp_path / "xl"))


def test_foreign_kohya_names_match_diffusers_keys(tmp_path, pipeline_lora):
    """Without our metadata, kohya paths keep underscores, but module keys still match."""
    write_kohya(pipeline_lora, tmp_path / "k.safetensors")
    with safe_open(str(tmp_path / "k.safetensors"), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    from safetensors.torch import save_file
    save_file(tensors, str(tmp_path / "foreign.safetensors"))
    foreign = read_lora(tmp_path / "foreign.safetensors")
    assert foreign.modules[-1].path == "down_blocks_0_resnets_0_conv1"
    assert [m.component for m in foreign.modules] == ["text_encoder", "unet", "unet", "unet"]
    assert_same_lora(pipeline_lora, foreign, check_names=False)


def test_conversions_agree_on_delta(tmp_path, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "peft")
    write_diffusers(read_lora(tmp_path / "peft"), tmp_path / "diff")
    write_kohya(read_lora(tmp_path / "diff"), tmp_path / "k.safetensors")
    write_peft(read_lora(tmp_path / "k.safetensors"), tmp_path / "peft2")
    loras = [read_lora(p) for p in (tmp_path / "peft", tmp_path / "diff", tmp_path / "k.safetensors", tmp_path / "peft2")]
    for lora in loras:
        assert_same_deltas(pipeline_lora, lora)
        assert_same_lora(pipeline_lora, lora)


def test_alpha_none_becomes_rank_in_peft(tmp_path):
    lora = random_lora({"a": (4, 4), "b": (4, 4)}, rank={"a": 2, "b": 3}, alpha=None)
    write_peft(lora, tmp_path / "peft")
    back = read_lora(tmp_path / "peft")
    assert [m.alpha for m in back.modules] == [2.0, 3.0]  # scale 1, as "no alpha" means
    assert_same_lora(lora, back, alpha_none_is_rank=True)
    assert_same_deltas(lora, back)


def test_dtypes_are_kept(tmp_path):
    lora = random_lora({("unet", "a"): (4, 4)}, dtype=torch.float16)
    write_kohya(lora, tmp_path / "k.safetensors")
    write_peft(lora, tmp_path / "p")
    write_diffusers(lora, tmp_path / "d")
    for path in (tmp_path / "k.safetensors", tmp_path / "p", tmp_path / "d"):
        back = read_lora(path)
        assert back.modules[0].U.dtype == torch.float16
        assert_same_lora(lora, back)


def test_transformed_lora_has_same_delta(pipeline_lora):
    g = torch.eye(4) + 0.1 * torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    same_rank = random_lora({UNET_Q: (8, 6), TEXT_Q: (6, 6)}, rank=4)
    assert_same_deltas(same_rank, same_rank.transformed(g), rtol=1e-4, atol=1e-5)
    conv = random_lora({UNET_CONV: (8, 4, 3, 3)}, rank=4)
    assert conv.transformed(g).modules[0].conv_kernel == (3, 3)


def test_outputs_are_atomic_and_do_not_clobber(tmp_path, language_lora):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        write_peft(language_lora, out)
    assert (out / "precious.txt").read_text() == "keep me"
    write_peft(language_lora, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    empty = tmp_path / "empty"
    empty.mkdir()
    write_peft(language_lora, empty)  # an empty folder (e.g. made by a workflow manager) is fine
    write_kohya(language_lora, tmp_path / "k.safetensors")
    write_kohya(language_lora, tmp_path / "k.safetensors")  # files are replaced atomically
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "k.safetensors", "out"]  # no temporaries left


def test_failed_write_leaves_nothing(tmp_path, language_lora, monkeypatch):
    import safetensors.torch

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")  # a job killed mid-write

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    for write, target in ((write_peft, tmp_path / "p"), (write_kohya, tmp_path / "k.safetensors")):
        with pytest.raises(KeyboardInterrupt, match="^killed mid-write$"):
            write(language_lora, target)
    assert list(tmp_path.iterdir()) == []


def test_kohya_needs_safetensors_suffix(tmp_path, language_lora):
    with pytest.raises(LoraFormatError, match="must end in .safetensors"):
        write_kohya(language_lora, tmp_path / "k.pt")


def test_kohya_paths_that_look_like_prefixes_round_trip(tmp_path):
    """A component-less path starting with "te." or "unet." becomes lora_te_... / lora_unet_...;
    our metadata restores it, and a foreign reader still gets the same ΔW."""
    lora = random_lora({"te.proj": (4, 4), "unet.proj": (4, 4), "transformer.h.0.attn.c_attn": (4, 4)}, rank=2)
    write_kohya(lora, tmp_path / "k.safetensors")
    assert_same_lora(lora, read_lora(tmp_path / "k.safetensors"))


def test_peft_config_defaults_like_peft(tmp_path):
    """adapter_config.json without r / lora_alpha: peft's LoraConfig defaults (8, 8) apply."""
    lora = random_lora({"a": (4, 4)}, rank=8, alpha=8.0)
    write_peft(lora, tmp_path / "p")
    config = json.loads((tmp_path / "p" / "adapter_config.json").read_text())
    del config["r"], config["lora_alpha"]
    (tmp_path / "p" / "adapter_config.json").write_text(json.dumps(config))
    assert read_lora(tmp_path / "p").modules[0].alpha == 8.0
