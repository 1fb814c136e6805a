"""Write a trained LoRA as diffusers' pytorch_lora_weights.safetensors, byte-identical for identical weights.

safetensors serialises its string metadata from a hash map, so two saves of the same tensors
can order "format" and "lora_adapter_metadata" differently. We rewrite the header canonically
(sorted keys, space padding to 8 bytes as safetensors pads); offsets are relative to the data
section, which is kept as is, so the file stays a valid safetensors file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from lolzoo.io import atomic_dir
from lolzoo.lora import Lora, write_diffusers
from lolzoo.lora.readers import DIFFUSERS_WEIGHTS

HEADER_ALIGNMENT = 8


def canonicalize_safetensors_header(path: Path) -> None:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % HEADER_ALIGNMENT)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length:])


def write_lora_folder(lora: Lora, out_dir: str | Path) -> Path:
    """`out_dir`/pytorch_lora_weights.safetensors, atomically (a rerun of the job replaces it)."""
    with atomic_dir(out_dir, overwrite=True) as staging:
        write_diffusers(lora, staging)  # replaces the empty staging folder with its own
        canonicalize_safetensors_header(staging / DIFFUSERS_WEIGHTS)
    return Path(out_dir)
