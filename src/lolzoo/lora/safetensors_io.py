"""Read a .safetensors file only after checking its header ourselves.

safetensors validates headers too, but a zoo is built from files found on hubs: we want one
clear LoraFormatError naming the file and the problem, decided from the 8-byte length prefix
and the header alone, before any large allocation. Only then is the file handed to
`safetensors.safe_open`. Checked, in order, and why:

- the path is a regular file (untrusted_files): a FIFO would block open(), /dev/zero never ends;
- the header length is at most MAX_HEADER_BYTES and fits in the file: a prefix claiming a
  2**40-byte header must cost nothing, and a truncated file is named as such;
- the header is UTF-8 JSON, an object, without duplicate keys; nesting too deep for the
  parser, or integers too long for Python (4300 digits), are refused like any bad JSON;
- `__metadata__` maps strings to strings (as the format says);
- every tensor name is printable (error messages stay one line) and at most MAX_NAME_CHARS long;
- every entry has exactly dtype, shape and data_offsets; dtype is a float type a LoRA can
  use (ITEMSIZE); shape has at most MAX_NDIM non-negative integers below 2**63; data_offsets
  lie inside the data section and hold exactly prod(shape) * itemsize bytes (Python integers,
  so a [2**40, 2**40] shape is just a big number, never an allocation);
- the tensors tile the data section exactly: the first starts at 0, each starts where the
  previous ends, the last ends at the end of the file. Overlaps (two names sharing bytes),
  gaps and trailing bytes are all refused. safetensors >= 0.4 enforces the same rule; doing it
  here gives the same clear message for every variant.

Memory is then bounded by the file size: safetensors maps the file and copies each tensor once.
Values are not checked here: NaN/Inf weights are reported by `Lora.check_finite`, which names
the module.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch

from lolzoo.lora.types import LoraFormatError
from lolzoo.lora.untrusted_files import open_regular_file

MAX_HEADER_BYTES = 16 * 1024 * 1024  # real LoRA headers are a few hundred KiB at most
MAX_NAME_CHARS = 1024  # real tensor names are under 200 characters
MAX_NDIM = 8  # LoRA factors have 2 (linear) or 4 (conv) dimensions, alphas 0 or 1
MAX_DIM = 2**63 - 1  # what safetensors and torch can index

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

    with open_regular_file(path) as handle:
        try:
            file_size = os.fstat(handle.fileno()).st_size
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
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise fail(f"duplicate header key {key!r}")
            seen.add(key)
        return dict(pairs)

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except LoraFormatError:  # a duplicate key; LoraFormatError is itself a ValueError
        raise
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
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
        _check_name(name, fail)
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in ITEMSIZE:
            raise fail(f"tensor {name!r}: dtype {dtype!r} is not supported for LoRA weights "
                       f"(expected one of {', '.join(ITEMSIZE)})")
        if not isinstance(shape, list) or not all(_is_int(d) and 0 <= d <= MAX_DIM for d in shape):
            raise fail(f"tensor {name!r}: shape {_short(shape)} is not a list of integers in [0, 2**63)")
        if len(shape) > MAX_NDIM:
            raise fail(f"tensor {name!r}: {len(shape)} dimensions, more than any LoRA tensor ({MAX_NDIM})")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)):
            raise fail(f"tensor {name!r}: data_offsets {_short(offsets)} is not a pair of non-negative integers")
        begin, end = offsets
        if not begin <= end <= data_size:
            raise fail(f"tensor {name!r}: data_offsets [{begin}, {end}] fall outside the "
                       f"{data_size}-byte data section")
        nbytes = math.prod(shape) * ITEMSIZE[dtype]  # Python ints: an absurd shape cannot overflow
        if end - begin != nbytes:
            raise fail(f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes, "
                       f"data_offsets give {end - begin}")
        spans.append((begin, end, name))
    _check_tiling(spans, data_size, fail)


def _check_tiling(spans: list[tuple[int, int, str]], data_size: int, fail) -> None:
    """The tensors must cover the data section exactly once, in some order (safetensors' rule)."""
    covered, previous = 0, None
    for begin, end, name in sorted(spans):
        if begin < covered:
            raise fail(f"tensors {previous!r} and {name!r} overlap (bytes {begin} to {covered})")
        if begin > covered:
            raise fail(f"bytes {covered} to {begin} of the data section belong to no tensor "
                       f"(a gap before {name!r})")
        covered, previous = end, name
    if covered != data_size:
        raise fail(f"the data section has {data_size} bytes, the tensors cover {covered}: "
                   f"{data_size - covered} trailing bytes belong to no tensor")


def _check_name(name: str, fail) -> None:
    if len(name) > MAX_NAME_CHARS:
        raise fail(f"a tensor name of {len(name)} characters ({name[:40]!r}...), "
                   f"more than the {MAX_NAME_CHARS}-character cap")
    if not name.isprintable():
        raise fail(f"tensor name {name!r} contains control or non-printable characters")


def _short(value, limit: int = 80) -> str:
    """repr cut to `limit` characters: a hostile shape may hold thousands of entries."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
