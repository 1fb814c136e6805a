"""Every unreadable input gives a LoraFormatError whose message names the path and the problem."""

import json

import pytest
import torch
from safetensors.torch import save_file

from lolzoo.lora import LoraFormatError, read_lora, write_kohya, write_peft
from lolzoo.lora.testing import assert_same_lora, random_lora

A = "unet.down_blocks.0.attn1.to_q.lora_A.weight"
B = "unet.down_blocks.0.attn1.to_q.lora_B.weight"


def save(path, tensors, metadata=None):
    save_file(tensors, str(path), metadata=metadata)
    return path


def refused(path, match, **kwargs):
    with pytest.raises(LoraFormatError, match=match) as info:
        read_lora(path, **kwargs)
    assert str(info.value).startswith(str(path)), f"message does not start with the path: {info.value}"
    return str(info.value)


def test_nonexistent_path(tmp_path):
    refused(tmp_path / "missing", "no such file or folder")


def test_missing_half_of_a_pair(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4)})
    message = refused(path, "missing half of the LoRA pair")
    assert "unet.down_blocks.0.attn1.to_q" in message and "no B/up" in message


def test_kohya_up_without_down(tmp_path):
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_up.weight": torch.randn(4, 2)})
    refused(path, "no A/down weight")


def test_mismatched_ranks(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 3)})
    refused(path, r"mismatched ranks inside the pair.*\(2, 4\).*\(4, 3\)")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values(tmp_path, bad):
    up = torch.randn(4, 2)
    up[1, 1] = bad
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: up})
    refused(path, r"1 non-finite \(NaN/Inf\) values in B")


def test_non_finite_alpha(tmp_path):
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                             "lora_unet_a.lora_up.weight": torch.randn(4, 2),
                                             "lora_unet_a.alpha": torch.tensor(float("nan"))})
    refused(path, "alpha is not finite")


def test_no_lora_tensors(tmp_path):
    path = save(tmp_path / "model.safetensors", {"encoder.weight": torch.randn(2, 2), "encoder.bias": torch.randn(2)})
    refused(path, r"no LoRA tensors among 2 tensor\(s\) \(e.g. encoder.bias")


def test_empty_safetensors(tmp_path):
    path = save(tmp_path / "empty.safetensors", {})
    refused(path, "holds no tensors at all")


@pytest.mark.parametrize("content, match", [
    (b"", "fewer than the 8-byte header"),
    (b"\x00" * 7, "fewer than the 8-byte header"),
    (bytes(range(256)) * 8, "not a valid safetensors file"),
])
def test_corrupt_safetensors(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    refused(path, match)


def test_unknown_layouts(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi")
    refused(folder, "unknown layout")
    text = tmp_path / "weights.npz"
    text.write_bytes(b"x")
    refused(text, "unknown file type '.npz'")


def test_two_safetensors_in_a_folder(tmp_path):
    for name in ("a", "b"):
        save(tmp_path / f"{name}.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2)})
    refused(tmp_path, "2 .safetensors files")


def test_unrecognised_tensors_are_not_dropped(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2), "unet.conv.weight": torch.randn(2)})
    refused(path, r"1 tensor\(s\) are not part of a diffusers LoRA, e.g. unet.conv.weight")


@pytest.mark.parametrize("extra, match", [
    ({"unet.down_blocks.0.attn1.to_q.lora_B.bias": torch.ones(4)}, "LoRA biases"),
])
def test_unsupported_variants(tmp_path, extra, match):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2), **extra})
    refused(path, f"unsupported LoRA variant: {match}")


def test_kohya_dora_scale_is_refused(tmp_path):
    path = save(tmp_path / "dora.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                                "lora_unet_a.lora_up.weight": torch.randn(4, 2),
                                                "lora_unet_a.dora_scale": torch.ones(1, 4)})
    refused(path, "kohya/LyCORIS DoRA")


def test_dora_magnitude_of_the_wrong_length_is_refused(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2),
                                             "unet.down_blocks.0.attn1.to_q.lora_magnitude_vector": torch.ones(3)})
    refused(path, "DoRA magnitude vector has 3 entries")


def test_dora_magnitude_with_inf_is_reported(tmp_path):
    magnitude = torch.ones(4)
    magnitude[1] = float("inf")
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2),
                                             "unet.down_blocks.0.attn1.to_q.lora_magnitude_vector": magnitude})
    refused(path, "1 non-finite .* DoRA magnitude vector")


def test_kohya_loha_is_refused(tmp_path):
    path = save(tmp_path / "loha.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                                "lora_unet_a.lora_up.weight": torch.randn(4, 2),
                                                "lora_unet_b.hada_w1_a": torch.randn(4, 2)})
    refused(path, "LyCORIS LoHa")


def test_conv_with_non_1x1_up_is_refused(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4, 3, 3), B: torch.randn(4, 2, 3, 3)})
    refused(path, "B/up kernel is not 1x1")


def test_conv_and_linear_halves_do_not_pair(tmp_path):
    path = save(tmp_path / "x.safetensors", {A: torch.randn(2, 4, 3, 3), B: torch.randn(4, 2)})
    refused(path, "both be matrices or both be conv weights")


def test_non_scalar_alpha(tmp_path):
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                             "lora_unet_a.lora_up.weight": torch.randn(4, 2),
                                             "lora_unet_a.alpha": torch.ones(2)})
    refused(path, "should be a scalar")


def test_integer_tensors_are_refused_from_the_header(tmp_path):
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.ones(2, 4, dtype=torch.int64),
                                             "lora_unet_a.lora_up.weight": torch.randn(4, 2)})
    refused(path, "dtype 'I64' is not supported")


# PEFT folders -------------------------------------------------------------------------------

@pytest.fixture
def peft_dir(tmp_path):
    lora = random_lora({"model.layers.0.q_proj": (6, 4), "model.layers.0.v_proj": (6, 4)}, rank=2, alpha=4.0)
    return write_peft(lora, tmp_path / "peft"), lora


def edit_config(folder, **changes):
    config = json.loads((folder / "adapter_config.json").read_text())
    config.update(changes)
    (folder / "adapter_config.json").write_text(json.dumps(config))


def test_peft_config_rank_disagrees_with_tensors(peft_dir):
    folder, _ = peft_dir
    edit_config(folder, r=8)
    refused(folder, "the config gives r=8 but the tensors have rank 2")


def test_peft_config_is_not_json(peft_dir):
    folder, _ = peft_dir
    (folder / "adapter_config.json").write_text("{nope")
    refused(folder, "adapter_config.json: not valid JSON")


@pytest.mark.parametrize("changes, match", [
    ({"peft_type": "IA3"}, "not a LoRA adapter"),
    ({"use_dora": True}, "use_dora=true but the weights have no lora_magnitude_vector"),
    ({"lora_alpha": "eight"}, "'lora_alpha' must be a finite number"),
    ({"alpha_pattern": ["x"]}, "'alpha_pattern' must map module names to numbers"),
])
def test_peft_config_problems(peft_dir, changes, match):
    folder, _ = peft_dir
    edit_config(folder, **changes)
    refused(folder, match)


def test_peft_folder_without_weights(peft_dir):
    folder, _ = peft_dir
    (folder / "adapter_model.safetensors").unlink()
    refused(folder, "PEFT folder without adapter_model.safetensors")


def test_peft_weights_without_config(peft_dir, tmp_path):
    folder, _ = peft_dir
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes((folder / "adapter_model.safetensors").read_bytes())
    refused(lone, "without adapter_config.json next to them: the alpha")


def test_peft_file_path_reads_its_folder(peft_dir):
    folder, lora = peft_dir
    assert_same_lora(lora, read_lora(folder / "adapter_model.safetensors"))


def test_peft_adapter_names_in_keys(peft_dir):
    folder, lora = peft_dir
    weights = folder / "adapter_model.safetensors"
    tensors, _ = _load(weights)
    renamed = {k.replace(".weight", ".default.weight"): v for k, v in tensors.items()}
    save(weights, renamed)
    assert_same_lora(lora, read_lora(folder))
    two = {**renamed, **{k.replace(".default.", ".other."): v.clone() for k, v in renamed.items()}}
    save(weights, two)
    refused(folder, r"several adapters in one file \(\['default', 'other'\]\)")


def test_incomplete_component_subfolder(tmp_path, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "p")
    (tmp_path / "p" / "text_encoder" / "adapter_config.json").unlink()
    refused(tmp_path / "p", r"subfolder\(s\) \['text_encoder'\] hold adapter weights but no adapter_config.json")


def _load(path):
    from lolzoo.lora.safetensors_io import read_safetensors
    return read_safetensors(path)


# Pickle -------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".ckpt"])
def test_pickle_refused_by_default_and_loaded_when_allowed(tmp_path, suffix):
    path = tmp_path / f"lora{suffix}"
    down, up = torch.randn(2, 4), torch.randn(4, 2)
    torch.save({"lora_unet_a.lora_down.weight": down, "lora_unet_a.lora_up.weight": up,
                "lora_unet_a.alpha": torch.tensor(1.0)}, path)
    message = refused(path, "refusing to read a pickle file")
    assert "allow_pickle=True" in message and "--allow-pickle" in message and "arbitrary code" in message
    lora = read_lora(path, allow_pickle=True)
    assert lora.modules[0].alpha == 1.0 and torch.equal(lora.modules[0].U, up)


def test_peft_folder_with_only_pickle_weights(peft_dir):
    folder, lora = peft_dir
    tensors, _ = _load(folder / "adapter_model.safetensors")
    (folder / "adapter_model.safetensors").unlink()
    torch.save(tensors, folder / "adapter_model.bin")
    refused(folder, "refusing to read a pickle file")
    assert_same_lora(lora, read_lora(folder, allow_pickle=True))


class NotAllowed:
    pass


def test_pickle_with_arbitrary_objects_is_refused_even_when_allowed(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"x": NotAllowed()}, path)
    refused(path, "cannot load pickle file with weights_only=True", allow_pickle=True)


def test_corrupt_pickle(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"not a pickle at all")
    refused(path, "cannot load pickle file", allow_pickle=True)


def test_pickle_of_non_tensors(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(2)], path)
    refused(path, "expected a state dict", allow_pickle=True)


def test_kohya_file_with_two_names_for_one_key(tmp_path):
    lora = random_lora({"a.b": (4, 4), "a_b": (4, 4)}, alpha=None)
    with pytest.raises(LoraFormatError, match="both become kohya name lora_a_b"):
        write_kohya(lora, tmp_path / "k.safetensors")
