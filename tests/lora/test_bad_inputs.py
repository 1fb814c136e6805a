"""Every unreadable input gives a LoraFormatError whose message names the path and the problem."""

import json
import os
import time
import tracemalloc

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


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("factor, label", [(A, r"B \(U\)"), (B, r"A \(V\)")])
def test_non_finite_values(tmp_path, bad, factor, label):
    tensors = {A: torch.randn(2, 4), B: torch.randn(4, 2)}
    tensors[B if factor == A else A].view(-1)[[1, 3]] = bad  # two bad values in the other factor
    path = save(tmp_path / "x.safetensors", tensors)
    refused(path, rf"unet.down_blocks.0.attn1.to_q: 2 non-finite \(NaN/Inf\) values in {label}")


def kohya_with_alpha(path, alpha):
    return save(path, {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                       "lora_unet_a.lora_up.weight": torch.randn(4, 2), "lora_unet_a.alpha": torch.tensor(alpha)})


@pytest.mark.parametrize("alpha", [float("nan"), float("inf")])
def test_non_finite_alpha(tmp_path, alpha):
    refused(kohya_with_alpha(tmp_path / "k.safetensors", alpha), rf"unet.a: alpha is not finite \({alpha}\)")


def test_zero_alpha_is_refused_as_ambiguous(tmp_path):
    refused(kohya_with_alpha(tmp_path / "k.safetensors", 0.0), "lora_unet_a.alpha is 0, which tools read differently")


def test_negative_alpha_is_read_as_a_negative_scale(tmp_path):
    """Decided: a negative alpha is a well-defined LoRA (ΔW flips sign), so it is read as it is."""
    module = read_lora(kohya_with_alpha(tmp_path / "k.safetensors", -4.0)).modules[0]
    assert module.alpha == -4.0 and module.scale == -2.0


@pytest.mark.parametrize("down_shape, up_shape, match", [
    ((2**20, 1), (1, 2**20), r"rank 1048576 exceeds the 1 output and the 1 input features and 1024"),
    ((5, 0), (0, 5), "an empty factor: no output or input features"),
    ((3, 0, 3, 3), (4, 3, 1, 1), "an empty factor"),
])
def test_pairs_with_absurd_ranks_or_empty_factors(tmp_path, down_shape, up_shape, match):
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.zeros(down_shape),
                                             "lora_unet_a.lora_up.weight": torch.zeros(up_shape)})
    refused(path, f"unet.a: {match}")


def test_rank_above_one_side_is_still_read(tmp_path):
    """A rank above min(out, in) wastes parameters but is a LoRA (the predict tests use one)."""
    path = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(6, 4),
                                             "lora_unet_a.lora_up.weight": torch.randn(6, 6)})
    assert read_lora(path).modules[0].rank == 6


def test_deeply_nested_metadata_json(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    kohya = save(tmp_path / "k.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                              "lora_unet_a.lora_up.weight": torch.randn(4, 2)},
                 metadata={"lolzoo_modules": deep})
    assert read_lora(kohya).modules[0].path == "a"  # our own kohya name hints are optional: ignored
    diffusers = save(tmp_path / "d.safetensors", {A: torch.randn(2, 4), B: torch.randn(4, 2)},
                     metadata={"lora_adapter_metadata": deep})
    refused(diffusers, "metadata lora_adapter_metadata is not valid JSON \\(maximum recursion depth")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name, kwargs, match", [
    ("x.safetensors", {}, "refusing to read a FIFO"),
    ("x.bin", {"allow_pickle": True}, "refusing to read a FIFO"),
])
def test_fifo_lora_file_does_not_hang(tmp_path, name, kwargs, match):
    os.mkfifo(tmp_path / name)
    refused(tmp_path / name, match, **kwargs)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_adapter_config_does_not_hang(tmp_path):
    """A FIFO is not a file, so the folder is not a PEFT adapter at all."""
    os.mkfifo(tmp_path / "adapter_config.json")
    refused(tmp_path, "unknown layout")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero(tmp_path):
    (tmp_path / "x.safetensors").symlink_to("/dev/zero")
    refused(tmp_path / "x.safetensors", "refusing to read a character device")


def test_directory_named_like_a_lora_file(tmp_path):
    (tmp_path / "x.safetensors").mkdir()
    refused(tmp_path / "x.safetensors", "unknown layout")


def test_empty_file(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"")
    refused(tmp_path / "x.safetensors", "the file has 0 bytes, fewer than the 8-byte header length")


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


@pytest.mark.parametrize("extra, match", [
    ({"lora_unet_a.dora_scale": torch.ones(1, 4)}, "kohya/LyCORIS DoRA"),
    ({"lora_unet_b.hada_w1_a": torch.randn(4, 2)}, "LyCORIS LoHa"),
], ids=["dora_scale", "loha"])
def test_kohya_variants_are_refused(tmp_path, extra, match):
    path = save(tmp_path / "variant.safetensors", {"lora_unet_a.lora_down.weight": torch.randn(2, 4),
                                                   "lora_unet_a.lora_up.weight": torch.randn(4, 2), **extra})
    refused(path, match)


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
    ({"use_dora": "false"}, "'use_dora' must be true or false"),
    ({"use_rslora": 1}, "'use_rslora' must be true or false"),
    ({"lora_alpha": "eight"}, "'lora_alpha' must be a finite number"),
    ({"r": "2"}, "'r' must be a finite number, got '2'"),
    ({"r": [2]}, "'r' must be a finite number, got \\[2\\]"),
    ({"r": True}, "'r' must be a finite number, got True"),
    ({"r": 10**400}, "'r' must be a finite number"),
    ({"lora_alpha": None}, "'lora_alpha' must be a finite number, got None"),
    ({"alpha_pattern": ["x"]}, "'alpha_pattern' must map module names to finite numbers"),
    ({"alpha_pattern": {"q_proj": "4"}}, "'alpha_pattern' must map module names to finite numbers"),
    ({"rank_pattern": {"q_proj": float("nan")}}, "'rank_pattern' must map module names to finite numbers"),
    ({"rank_pattern": {"q_proj": float("inf")}}, "'rank_pattern' must map module names to finite numbers"),
    ({"rank_pattern": {"q_proj": 10**400}}, "'rank_pattern' must map module names to finite numbers"),
    ({"rank_pattern": {"(q_proj": 2}}, r"rank_pattern key '\(q_proj' is not a valid regex \(missing \)"),
    ({"rank_pattern": {"(a*)*x": 2}}, "rank_pattern key '\\(a\\*\\)\\*x': regexes with a quantified group"),
    ({"alpha_pattern": {".*a.*b": 2}}, "more than one quantifier can take exponential time"),
    ({"alpha_pattern": {f"m{i}": 2 for i in range(5000)}}, "has 5000 entries, more than the 4096"),
])
def test_peft_config_problems(peft_dir, changes, match):
    folder, _ = peft_dir
    edit_config(folder, **changes)
    message = refused(folder, match)
    assert message.startswith(f"{folder / 'adapter_config.json'}: ")


def test_peft_config_one_quantifier_is_allowed(peft_dir):
    folder, lora = peft_dir
    edit_config(folder, alpha_pattern={r"layers\.0\..*v_proj": 4})
    assert_same_lora(lora, read_lora(folder))


def test_redos_pattern_key_is_refused_fast(peft_dir):
    """'(a*)*x' takes minutes in re against a path of 30 'a's: it is refused before any matching."""
    folder, _ = peft_dir
    edit_config(folder, rank_pattern={"(a*)*x": 2})
    start = time.perf_counter()
    refused(folder, "quantified group")
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("content, match", [
    ("[" * 100_000 + "]" * 100_000, "adapter_config.json: not valid JSON \\(maximum recursion depth"),
    ('{"r": ' + "9" * 5000 + "}", "adapter_config.json: not valid JSON \\(Exceeds the limit"),
    (b"\xff\xfe{}", "adapter_config.json: not UTF-8 text"),
    ("[]", "adapter_config.json: expected a JSON object"),
])
def test_peft_config_unparsable(peft_dir, content, match):
    folder, _ = peft_dir
    config = folder / "adapter_config.json"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused(folder, match)


def test_huge_peft_config_is_refused_unread(peft_dir, monkeypatch):
    folder, _ = peft_dir
    with open(folder / "adapter_config.json", "r+b") as handle:  # sparse: 2 GB on paper, nothing on disk
        handle.truncate(2 * 1024**3)
    tracemalloc.start()
    try:
        refused(folder, "adapter_config.json: 2147483648 bytes, more than the 1048576-byte cap")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


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
def test_pickle_refused_by_default_and_loaded_when_allowed(tmp_path, suffix, monkeypatch):
    path = tmp_path / f"lora{suffix}"
    down, up = torch.randn(2, 4), torch.randn(4, 2)
    torch.save({"lora_unet_a.lora_down.weight": down, "lora_unet_a.lora_up.weight": up,
                "lora_unet_a.alpha": torch.tensor(1.0)}, path)
    message = refused(path, "refusing to read a pickle file")
    assert "allow_pickle=True" in message and "--allow-pickle" in message and "arbitrary code" in message
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: calls.append(kwargs) or real_load(*args, **kwargs))
    lora = read_lora(path, allow_pickle=True)
    assert [call["weights_only"] for call in calls] == [True]
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


class WritesMarker:
    """Unpickling this runs open(marker, "w"): what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_does_not_run_even_when_allowed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.bin"
    torch.save({"lora_unet_a.lora_down.weight": torch.randn(2, 4), "payload": WritesMarker(marker)}, path)
    assert not marker.exists()
    refused(path, "refusing to read a pickle file")
    refused(path, "cannot load pickle file with weights_only=True: UnpicklingError", allow_pickle=True)
    assert not marker.exists()


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
