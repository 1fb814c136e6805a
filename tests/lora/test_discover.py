"""lolzoo.lora.discover: which files and folders under some paths are LoRAs, in what order."""

from __future__ import annotations

import os

import torch

from lolzoo.lora import Lora, LoraModule, write_diffusers, write_kohya, write_peft
from lolzoo.lora.discover import find_loras, is_lora_folder
from lolzoo.lora.testing import random_lora

SHAPES = {"blocks.0.attn.q": (6, 4)}


def dreambooth_lora() -> Lora:
    """peft's DreamBooth layout once written: unet/ and text_encoder/ adapter subfolders."""
    te = LoraModule("text_encoder", "text_model.encoder.layers.0.self_attn.q_proj",
                    torch.randn(5, 2), torch.randn(5, 2))
    return Lora([*random_lora({"down_blocks.0.to_q": (6, 4)}, rank=2, component="unet").modules, te])


def test_a_tree_of_loras_is_found_in_sorted_order_without_descending_into_loras(tmp_path):
    root = tmp_path / "downloads"
    write_peft(random_lora(SHAPES), root / "b_peft")
    (root / "b_peft" / "nested").mkdir()  # inside a LoRA folder: never looked at
    write_kohya(random_lora(SHAPES), root / "b_peft" / "nested" / "x.safetensors")
    write_peft(dreambooth_lora(), root / "a" / "dreambooth")
    write_diffusers(random_lora({"down_blocks.0.attentions.0.proj_in": (6, 4)}, component="unet"),
                    root / "a" / "diffusers")
    (root / "a" / "deeper").mkdir()
    write_kohya(random_lora(SHAPES), root / "a" / "deeper" / "kohya.safetensors")
    (root / "a" / "deeper" / "model.ckpt").write_bytes(b"not read here")
    (root / "a" / "deeper" / "README.md").write_text("not a LoRA")
    (root / ".cache").mkdir()
    write_kohya(random_lora(SHAPES), root / ".cache" / "hidden.safetensors")
    write_peft(random_lora(SHAPES), tmp_path / "elsewhere" / "peft")  # a folder of PEFT adapters is many LoRAs

    found = list(find_loras([root, tmp_path / "elsewhere"]))
    assert found == [root / "a" / "deeper" / "kohya.safetensors", root / "a" / "deeper" / "model.ckpt",
                     root / "a" / "diffusers", root / "a" / "dreambooth", root / "b_peft",
                     tmp_path / "elsewhere" / "peft"]
    assert is_lora_folder(root / "a" / "dreambooth") and not is_lora_folder(tmp_path / "elsewhere")


def test_given_paths_are_kept_in_order_and_a_lora_folder_is_itself(tmp_path):
    peft = write_peft(random_lora(SHAPES), tmp_path / "peft")
    kohya = write_kohya(random_lora(SHAPES), tmp_path / "k.safetensors")
    other = tmp_path / "notes.txt"
    other.write_text("a file given by name is read (and refused) whatever its name")
    assert list(find_loras([kohya, peft, other])) == [kohya, peft, other]


def test_symlink_loops_are_walked_once(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    write_kohya(random_lora(SHAPES), root / "sub" / "k.safetensors")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "sub", root / "again")
    os.symlink(tmp_path / "nowhere", root / "dangling")
    assert list(find_loras([root])) == [root / "again" / "k.safetensors"]  # "sub" is the folder "again" was


def test_find_loras_is_lazy(tmp_path):
    for index in range(3):
        write_kohya(random_lora(SHAPES), tmp_path / f"{index}.safetensors")
    found = find_loras([tmp_path])
    assert next(found) == tmp_path / "0.safetensors"
    (tmp_path / "2.safetensors").unlink()  # after the folder was listed: only what is still there comes next
    assert list(found) == [tmp_path / "1.safetensors"]
