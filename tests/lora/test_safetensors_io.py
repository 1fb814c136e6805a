"""The safe safetensors reader: hostile headers are refused from the header alone, fast."""

import json
import resource
import struct
import time

import pytest
import torch
from safetensors.torch import save_file

from lolzoo.lora.safetensors_io import MAX_HEADER_BYTES, read_header, read_safetensors
from lolzoo.lora.types import LoraFormatError


def write_raw(path, header, data=b"", header_len=None):
    raw = json.dumps(header).encode() if isinstance(header, (dict, list)) else header
    length = len(raw) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", length) + raw + data)
    return path


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def test_reads_tensors_and_metadata(tmp_path):
    path = tmp_path / "ok.safetensors"
    tensors = {"a": torch.randn(3, 2), "b": torch.randn(4, dtype=torch.float64), "c": torch.ones(2, dtype=torch.bfloat16)}
    save_file(tensors, str(path), metadata={"format": "pt", "note": "hi"})
    loaded, metadata = read_safetensors(path)
    assert metadata == {"format": "pt", "note": "hi"}
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor) and loaded[name].dtype == tensor.dtype


def test_valid_handmade_header_passes(tmp_path):
    path = write_raw(tmp_path / "x.safetensors", {"a": entry(), "__metadata__": {"k": "v"}}, b"\0" * 8)
    assert read_header(path)["a"]["shape"] == [2]
    tensors, metadata = read_safetensors(path)
    assert metadata == {"k": "v"} and torch.equal(tensors["a"], torch.zeros(2))


@pytest.mark.parametrize("content, match", [
    (b"", "fewer than the 8-byte header length"),
    (b"\x01\x02\x03", "fewer than the 8-byte header length"),
    (struct.pack("<Q", 100) + b'{"a":', "larger than the rest of the file"),
    (struct.pack("<Q", 2**40) + b"{}", "exceeds the"),
    (struct.pack("<Q", 5) + b"\xff\xfe\xfd\xfc\xfb", "not UTF-8 JSON"),
    (struct.pack("<Q", 4) + b"[1] ", "JSON list, not an object"),
    (struct.pack("<Q", 15) + b'{"a":1,"a":2}  ', "duplicate header key"),
])
def test_broken_files(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(LoraFormatError, match=match) as info:
        read_safetensors(path)
    assert str(path) in str(info.value)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(LoraFormatError, match="not a valid safetensors file"):
        read_safetensors(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_file({"a": torch.randn(64, 64)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(LoraFormatError, match="outside the .*-byte data section"):
        read_safetensors(path)


@pytest.mark.parametrize("header, data, match", [
    ({"a": entry(offsets=(0, 16))}, b"\0" * 8, r"data_offsets \[0, 16\] fall outside"),
    ({"a": entry(offsets=(8, 4))}, b"\0" * 8, "fall outside"),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, b"\0" * 12, "overlap"),
    ({"a": entry(shape=(2**40, 2**40), offsets=(0, 8))}, b"\0" * 8, "needs 4835703278458516698824704 bytes"),
    ({"a": entry(shape=(3,), offsets=(0, 8))}, b"\0" * 8, "needs 12 bytes"),
    ({"a": entry(dtype="I64", shape=(1,))}, b"\0" * 8, "dtype 'I64' is not supported"),
    ({"a": entry(dtype="F8_E4M3", shape=(8,))}, b"\0" * 8, "dtype 'F8_E4M3' is not supported"),
    ({"a": entry(shape=(-1,))}, b"\0" * 8, "not a list of non-negative integers"),
    ({"a": entry(shape=(2.0,))}, b"\0" * 8, "not a list of non-negative integers"),
    ({"a": entry(offsets=(0,))}, b"\0" * 8, "not a pair"),
    ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "exactly dtype, shape and data_offsets"),
    ({"a": entry(), "__metadata__": {"k": 1}}, b"\0" * 8, "__metadata__ must map strings to strings"),
])
def test_hostile_headers(tmp_path, header, data, match):
    path = write_raw(tmp_path / "h.safetensors", header, data)
    with pytest.raises(LoraFormatError, match=match):
        read_safetensors(path)


def test_hostile_headers_cost_no_memory_or_time(tmp_path, monkeypatch):
    """A header claiming 2**40 bytes or a [2**40, 2**40] tensor is refused from the header alone:
    safetensors is never asked to open it, and neither time nor memory is spent."""
    import safetensors

    def must_not_open(*args, **kwargs):
        raise AssertionError("hostile file reached safe_open")

    monkeypatch.setattr(safetensors, "safe_open", must_not_open)
    cases = [
        write_raw(tmp_path / "len.safetensors", b"{}", header_len=2**40),
        write_raw(tmp_path / "shape.safetensors", {"a": entry(shape=(2**40, 2**40), offsets=(0, 2**62))}),
        write_raw(tmp_path / "cap.safetensors", b"{}" + b" " * 64, header_len=MAX_HEADER_BYTES + 1),
    ]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for path in cases:
        with pytest.raises(LoraFormatError):
            read_safetensors(path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB: nothing big was allocated


def test_gap_between_tensors_is_wrapped_from_safetensors(tmp_path):
    """Our checks allow gaps; safetensors itself refuses them, and that error is wrapped too."""
    path = write_raw(tmp_path / "gap.safetensors", {"a": entry(offsets=(8, 16))}, b"\0" * 16)
    with pytest.raises(LoraFormatError, match="corrupt safetensors file"):
        read_safetensors(path)


def test_missing_file(tmp_path):
    with pytest.raises(LoraFormatError, match="cannot read"):
        read_safetensors(tmp_path / "nope.safetensors")
