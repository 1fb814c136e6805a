"""Read a .safetensors file only after checking its header ourselves.

safetensors validates headers too, but a zoo is built from files found on hubs: we want one
clear LoraFormatError naming the file and the problem, decided from a few bytes and before
any large allocation (a header claiming a 2**40-byte header or a [2**40, 2**40] tensor must
cost nothing). Only then is the file handed to `safetensors.safe_open`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch

from lolzoo.lora.types import LoraFormatError

MAX_HEADER_BYTES = 16 * 1024 * 1024  # real LoRA headers are a few hundred KiB at most

# Floating dtypes only: a LoRA factor stored as integers or booleans is not a LoRA we understand.
ITEMSIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors of a .safetensors file (on CPU) and its `__metadata__` (str -> str)."""
    path = Path(path)
    header = read_header(path)
    metadata = header.pop("__metadata__", None) or {}
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as err:  # safetensors raises SafetensorError, OSError, ...: all mean "unreadable"
        raise LoraFormatError(f"{path}: corrupt safetensors file: {err}") from err
    return tensors, dict(metadata)


def read_header(path: str | Path) -> dict:
    """The parsed, validated JSON header; raises LoraFormatError on the first problem found."""
    path = Path(path)

    def fail(problem: str) -> LoraFormatError:
        return LoraFormatError(f"{path}: not a valid safetensors file: {problem}")

    try:
        file_size = os.path.getsize(path)
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise fail(f"the file has {file_size} bytes, fewer than the 8-byte header length")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES:
                raise fail(f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte cap")
            if header_len > file_size - 8:
                raise fail(f"header length {header_len} is larger than the rest of the file "
                           f"({file_size - 8} bytes): truncated or not safetensors")
            raw = handle.read(header_len)
    except OSError as err:
        raise LoraFormatError(f"{path}: cannot read: {err.strerror or err}") from err
    header = _parse_json_object(raw, fail)
    _check_entries(header, data_size=file_size - 8 - header_len, fail=fail)
    return header


def _parse_json_object(raw: bytes, fail) -> dict:
    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise fail(f"duplicate header key {next(k for k in keys if keys.count(k) > 1)!r}")
        return dict(pairs)

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise fail(f"the header is not UTF-8 JSON ({err.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise fail(f"the header is a JSON {type(header).__name__}, not an object")
    return header


def _check_entries(header: dict, data_size: int, fail) -> None:
    metadata = header.get("__metadata__")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise fail("__metadata__ must map strings to strings")

    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in ITEMSIZE:
            raise fail(f"tensor {name!r}: dtype {dtype!r} is not supported for LoRA weights "
                       f"(expected one of {', '.join(ITEMSIZE)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise fail(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)):
            raise fail(f"tensor {name!r}: data_offsets {offsets!r} is not a pair of non-negative integers")
        begin, end = offsets
        if not begin <= end <= data_size:
            raise fail(f"tensor {name!r}: data_offsets [{begin}, {end}] fall outside the "
                       f"{data_size}-byte data section")
        nbytes = math.prod(shape) * ITEMSIZE[dtype]  # Python ints: an absurd shape cannot overflow
        if end - begin != nbytes:
            raise fail(f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes, "
                       f"data_offsets give {end - begin}")
        spans.append((begin, end, name))

    spans.sort()
    for (_, end, name), (begin, _, next_name) in zip(spans, spans[1:]):
        if begin < end:
            raise fail(f"tensors {name!r} and {next_name!r} overlap")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
