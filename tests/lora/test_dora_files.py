"""DoRA adapters (peft's use_dora=True): the magnitude vectors survive every read and write,
and what peft itself trained and saved reads back exactly."""

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from lolzoo.lora import LoraFormatError, read_lora, write_diffusers, write_kohya, write_peft
from lolzoo.lora.testing import assert_same_lora, language_like_lora, random_lora, with_magnitudes


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleDict({"k_proj": nn.Linear(12, 8), "v_proj": nn.Linear(12, 6)})
                                    for _ in range(2))


def trained_dora(seed=0) -> PeftModel:
    """A peft DoRA model whose magnitudes and B moved away from their initial values."""
    torch.manual_seed(seed)
    model = get_peft_model(TinyLM(), LoraConfig(r=2, lora_alpha=4, target_modules=["k_proj", "v_proj"],
                                                use_dora=True))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.add_(0.1 * torch.randn_like(param))
    return model


def test_peft_dora_adapter_reads_its_magnitudes(tmp_path):
    model = trained_dora()
    model.save_pretrained(tmp_path / "adapter")
    lora = read_lora(tmp_path / "adapter")
    assert lora.is_dora and len(lora.modules) == 4
    layer = model.base_model.model.layers[1]["v_proj"]
    module = next(m for m in lora.modules if m.path == "layers.1.v_proj")
    torch.testing.assert_close(module.magnitude, layer.lora_magnitude_vector["default"].weight.detach(),
                               rtol=0, atol=0)
    torch.testing.assert_close(module.U, layer.lora_B["default"].weight.detach(), rtol=0, atol=0)
    assert module.alpha == 4


def test_our_peft_dora_adapter_loads_in_peft_with_the_same_magnitudes(tmp_path):
    lora = with_magnitudes(random_lora({f"layers.{i}.{p}": (8 if p == "k_proj" else 6, 12)
                                        for i in range(2) for p in ("k_proj", "v_proj")}, rank=2))
    loaded = PeftModel.from_pretrained(TinyLM(), str(write_peft(lora, tmp_path / "ours")))
    for module in lora.modules:
        layer = loaded.base_model.model.get_submodule(module.path)
        torch.testing.assert_close(layer.lora_magnitude_vector["default"].weight.detach(), module.magnitude,
                                   rtol=0, atol=0)


@pytest.mark.parametrize("writer", [write_peft, write_diffusers], ids=["peft", "diffusers"])
def test_dora_round_trips(tmp_path, writer):
    shapes = {("unet", "mid.attn.to_q"): (8, 6), ("unet", "mid.attn.to_v"): (8, 6)}
    lora = with_magnitudes(random_lora(shapes, rank=3, seed=4), seed=5)
    back = read_lora(writer(lora, tmp_path / "out"))
    assert back.is_dora
    assert_same_lora(lora, back)


def test_transformed_keeps_the_magnitudes():
    lora = with_magnitudes(language_like_lora())
    g = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))[0] * 2
    moved = lora.transformed(g)
    for before, after in zip(lora.modules, moved.modules):
        assert torch.equal(before.magnitude, after.magnitude)


def test_without_magnitudes_is_the_low_rank_part():
    lora = with_magnitudes(language_like_lora())
    plain = lora.without_magnitudes()
    assert not plain.is_dora
    assert_same_lora(plain, language_like_lora())


def test_dora_is_not_written_as_kohya(tmp_path):
    with pytest.raises(LoraFormatError, match="DoRA adapter is not written as kohya"):
        write_kohya(with_magnitudes(language_like_lora()), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_a_half_dora_adapter_is_refused(tmp_path):
    lora = with_magnitudes(language_like_lora())
    folder = write_peft(lora, tmp_path / "adapter")
    from safetensors.torch import load_file, save_file
    weights = folder / "adapter_model.safetensors"
    tensors = load_file(weights)
    dropped = next(name for name in tensors if "lora_magnitude_vector" in name)
    del tensors[dropped]
    save_file(tensors, weights)
    with pytest.raises(LoraFormatError, match="needs a magnitude vector for every module"):
        read_lora(folder)
