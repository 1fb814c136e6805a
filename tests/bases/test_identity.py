"""A base's identity: its name from the card alone, and a hash that moves with its weights only."""

from __future__ import annotations

import json

import pytest

from lolzoo.bases.identity import base_identity, base_name, weights_sha256


def make_base(folder, card: dict, weights: dict[str, bytes]):
    folder.mkdir(parents=True)
    (folder / "base.json").write_text(json.dumps(card))
    for relative, data in weights.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return folder


def test_names_from_the_card(tmp_path):
    built = make_base(tmp_path / "sd_sibling", {"kind": "tiny-sd", "seed": 1}, {"unet/w.safetensors": b"1"})
    hub = make_base(tmp_path / "sd", {"kind": "pretrained", "role": "sd", "name": "CompVis/stable-diffusion-v1-4"},
                    {"unet/w.safetensors": b"1"})
    gguf = make_base(tmp_path / "smol", {"kind": "gguf", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
                     {"model.safetensors": b"1"})
    assert base_name(built) == "lolzoo/tiny-sd-sd_sibling"  # two tiny SD bases of one world keep apart
    assert base_name(hub) == "CompVis/stable-diffusion-v1-4"
    assert base_name(gguf) == "SmolLM2-135M-Instruct.Q4_1"
    plain = tmp_path / "plain"  # a Hugging Face folder without lolzoo's card: named by its place
    plain.mkdir()
    assert base_name(plain) == str(plain.resolve())


def test_the_hash_follows_the_weights_and_nothing_else(tmp_path):
    folder = make_base(tmp_path / "lm", {"kind": "tiny-qwen2"},
                       {"model.safetensors": b"weights", "tokenizer.json": b"{}", "config.json": b"{}"})
    first, count, size = weights_sha256(folder)
    assert (count, size) == (1, len(b"weights"))
    (folder / "tokenizer.json").write_text('{"changed": true}')
    (folder / "base.json").write_text(json.dumps({"kind": "tiny-qwen2", "note": "a card edit"}))
    assert weights_sha256(folder)[0] == first  # configs and the card are not weights
    (folder / "model.safetensors").write_bytes(b"weightz")
    assert weights_sha256(folder)[0] != first
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "model.safetensors").rename(folder / "renamed.safetensors")
    assert weights_sha256(folder)[0] != first  # which file holds which bytes is part of it


def test_a_linked_base_hashes_what_the_links_point_at(tmp_path):
    real = make_base(tmp_path / "real", {"kind": "tiny-sd"}, {"unet/w.safetensors": b"abc"})
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "base.json").write_text(json.dumps({"kind": "pretrained", "name": "org/model", "linked": True}))
    (linked / "unet").symlink_to(real / "unet")
    assert weights_sha256(linked)[0] == weights_sha256(real)[0]
    identity = base_identity(linked)
    assert identity["name"] == "org/model" and identity["linked"] is True and identity["weight_files"] == 1


def test_a_base_without_weights_or_card_is_refused(tmp_path):
    empty = make_base(tmp_path / "empty", {"kind": "tiny-sd"}, {"config.json": b"{}"})
    with pytest.raises(FileNotFoundError, match="without weight files"):
        base_identity(empty)
    with pytest.raises(Exception, match="does not exist"):
        base_identity(tmp_path / "absent")
