"""Fuzz the LoRA reader with mutated files: every input ends in a LoRA or a clear LoraFormatError.

Seeds are valid files our writers produce (kohya, diffusers, PEFT folders); hypothesis mutates
their 8-byte length prefix, their JSON header (entries dropped, duplicated, renamed, given other
offsets, shapes, dtypes or random JSON), their bytes (flips, truncations, extensions), PEFT's
adapter_config.json, or replaces everything by random bytes. The property: `read_lora` returns a
Lora whose modules are finite and shape-consistent, or raises a one-line LoraFormatError that
starts with the path; never another exception, never a hang (SIGALRM turns one into a failure).

Bounded for CI: LOLZOO_FUZZ_EXAMPLES examples per test (default 400; the whole file then runs
in well under a minute), derandomized when CI is set so failures reproduce. A long local run:
    LOLZOO_FUZZ_EXAMPLES=20000 pytest tests/lora/test_fuzz_lora_files.py
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lolzoo.lora import LoraFormatError, read_lora, write_diffusers, write_kohya, write_peft
from lolzoo.lora.testing import random_lora, sd_like_lora

EXAMPLES = int(os.environ.get("LOLZOO_FUZZ_EXAMPLES", "400"))
SECONDS_PER_FILE = 10  # a read of these few-KiB files takes milliseconds; anything near this is a hang

fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Seeds ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, Path]:
    """Valid LoRAs in every format: kohya and diffusers files, a PEFT folder."""
    root = tmp_path_factory.mktemp("seeds")
    small = random_lora({"blocks.0.attn.q": (6, 4), "blocks.1.conv": (4, 2, 3, 3)}, rank=2, alpha=4.0,
                        component="unet")
    return {
        "kohya": write_kohya(sd_like_lora(), root / "kohya.safetensors"),
        "kohya_small": write_kohya(small, root / "small.safetensors"),
        "diffusers": write_diffusers(sd_like_lora(), root / "diffusers") / "pytorch_lora_weights.safetensors",
        "peft": write_peft(random_lora({"model.layers.0.q_proj": (6, 4), "model.layers.1.v_proj": (6, 4)},
                                       rank=2, alpha=8.0), root / "peft"),
    }


def split(raw: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def join(header, data: bytes, length: int | None = None) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded) if length is None else length) + encoded + data


# Strategies ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
shape_values = st.lists(st.integers(-1, 2**64) | st.sampled_from([0, 1, 2, 4, 6, 2**40]), max_size=5)
offset_values = st.lists(st.integers(-8, 2**64) | st.integers(0, 4096), min_size=0, max_size=3)
dtype_values = st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "", "f32"]) | json_values
name_values = st.text(max_size=40) | st.sampled_from(
    ["lora_unet_x.lora_down.weight", "lora_unet_x.lora_up.weight", "lora_unet_x.alpha", "unet.a.lora_A.weight",
     "unet.a.lora_B.weight", "__metadata__", "x" * 2000, "a\nb"])


@st.composite
def header_mutation(draw, header: dict):
    """One change to a parsed header (in place)."""
    names = sorted(k for k in header if k != "__metadata__")
    name = draw(st.sampled_from(names)) if names else None
    entry = header[name] if name is not None and isinstance(header[name], dict) else {}  # may be broken already
    kind = draw(st.sampled_from(["drop", "duplicate", "rename", "offsets", "shape", "dtype", "entry",
                                 "field", "metadata", "metadata_value", "alpha"]))
    if name is None or kind == "metadata":
        header["__metadata__"] = draw(json_values | st.dictionaries(st.text(max_size=20), st.text(max_size=40)))
    elif kind == "drop":
        del header[name]
    elif kind == "duplicate":
        header[draw(name_values)] = dict(entry)
    elif kind == "rename":
        header[draw(name_values)] = header.pop(name)
    elif kind in ("offsets", "shape", "dtype"):
        key = {"offsets": "data_offsets", "shape": "shape", "dtype": "dtype"}[kind]
        values = {"offsets": offset_values, "shape": shape_values, "dtype": dtype_values}[kind]
        header[name] = {**entry, key: draw(values)}
    elif kind == "entry":
        header[name] = draw(json_values)
    elif kind == "field":
        header[name] = {**entry, draw(st.text(max_size=10)): draw(json_values)}
    elif kind == "alpha":  # a kohya alpha scalar whose bytes are anything: NaN, 0, negative...
        header[name] = {"dtype": "F32", "shape": [], "data_offsets": entry.get("data_offsets", [0, 4])}
    else:
        metadata = header.get("__metadata__")
        if isinstance(metadata, dict) and metadata:
            key = draw(st.sampled_from(sorted(metadata)))
            metadata[key] = draw(st.text(max_size=40) | json_values.map(json.dumps))


@st.composite
def mutated_header_file(draw, raw: bytes) -> bytes:
    header, data = split(raw)
    for _ in range(draw(st.integers(1, 3))):
        draw(header_mutation(header))
    data_change = draw(st.sampled_from(["keep", "truncate", "extend", "random"]))
    if data_change == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif data_change == "extend":
        data += draw(st.binary(max_size=64))
    elif data_change == "random":
        data = draw(st.binary(min_size=len(data), max_size=len(data)))
    encoded_length = len(json.dumps(header).encode())
    length = draw(st.none() | st.just(0) | st.integers(0, encoded_length + 64) | st.integers(0, 2**64 - 1))
    return join(header, data, length)


@st.composite
def mutated_bytes(draw, raw: bytes) -> bytes:
    raw = bytearray(raw)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "extend", "insert", "delete", "prefix"]))
        position = draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[position] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del raw[position:]
        elif kind == "extend":
            raw += draw(st.binary(max_size=32))
        elif kind == "insert":
            raw[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del raw[position:position + draw(st.integers(1, 8))]
        else:
            raw[:8] = draw(st.binary(min_size=8, max_size=8))
    return bytes(raw)


config_values = {
    "r": st.integers(-2, 10) | json_values, "lora_alpha": st.floats() | json_values,
    "rank_pattern": st.dictionaries(st.sampled_from([".*", "q_proj", "(a*)*", "[", "layers\\.0", "model"]),
                                    st.integers(-1, 4) | st.floats() | json_values, max_size=3) | json_values,
    "alpha_pattern": st.dictionaries(st.text(max_size=10), st.floats() | json_values, max_size=3) | json_values,
    "use_rslora": json_values, "use_dora": json_values, "peft_type": st.sampled_from(["LORA", "IA3"]) | json_values,
    "lora_bias": json_values, "base_model_name_or_path": json_values,
}


@st.composite
def mutated_config(draw, config: dict):
    config = dict(config)
    for key in draw(st.lists(st.sampled_from(sorted(config_values)), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            config[key] = draw(config_values[key])
        else:
            config.pop(key, None)
    text = json.dumps(config, allow_nan=True)
    return draw(st.just(text) | st.just(text[:draw(st.integers(0, len(text)))]) | json_values.map(json.dumps))


# The property --------------------------------------------------------------------------------

@contextmanager
def no_hang(seconds: int):
    def timeout(signum, frame):
        raise TimeoutError(f"read_lora ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_lora_or_clear_refusal(path: Path) -> None:
    try:
        with no_hang(SECONDS_PER_FILE):
            lora = read_lora(path)
    except LoraFormatError as err:
        message = str(err)
        assert message.startswith(str(path)), f"the refusal does not start with the path: {message!r}"
        assert "\n" not in message, f"the refusal is not one line: {message!r}"
        return
    for module in lora.modules:
        assert module.U.ndim == module.V.ndim == 2 and module.U.shape[1] == module.V.shape[1] == module.rank >= 1
        assert module.U.shape[0] >= 1 and module.V.shape[0] >= 1
        assert torch.isfinite(module.U).all() and torch.isfinite(module.V).all()
        assert module.alpha is None or math.isfinite(module.alpha)


@contextmanager
def scratch_copy(seed: Path):
    """A fresh folder holding a copy of the seed file or folder, to be mutated."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / seed.name
        (shutil.copytree if seed.is_dir() else shutil.copyfile)(seed, target)
        yield target


SAFETENSORS_SEEDS = ["kohya", "kohya_small", "diffusers", "peft"]


def weights_of(target: Path) -> Path:
    return target / "adapter_model.safetensors" if target.is_dir() else target


@fuzz
@given(data=st.data(), which=st.sampled_from(SAFETENSORS_SEEDS))
def test_mutated_headers(seeds, data, which):
    with scratch_copy(seeds[which]) as target:
        weights = weights_of(target)
        weights.write_bytes(data.draw(mutated_header_file(weights.read_bytes())))
        assert_lora_or_clear_refusal(target)


@fuzz
@given(data=st.data(), which=st.sampled_from(SAFETENSORS_SEEDS))
def test_mutated_bytes(seeds, data, which):
    with scratch_copy(seeds[which]) as target:
        weights = weights_of(target)
        weights.write_bytes(data.draw(mutated_bytes(weights.read_bytes())))
        assert_lora_or_clear_refusal(target)


@fuzz
@given(data=st.data())
def test_mutated_peft_config(seeds, data):
    with scratch_copy(seeds["peft"]) as target:
        config = target / "adapter_config.json"
        config.write_text(data.draw(mutated_config(json.loads(config.read_text()))))
        assert_lora_or_clear_refusal(target)


@fuzz
@given(raw=st.binary(max_size=512) | st.binary(max_size=64).map(lambda tail: struct.pack("<Q", len(tail)) + tail))
def test_random_bytes(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.safetensors"
        path.write_bytes(raw)
        assert_lora_or_clear_refusal(path)


def test_seeds_are_valid(seeds):
    """The property is not vacuous: unmutated seeds are read."""
    for seed in seeds.values():
        assert read_lora(seed).modules
