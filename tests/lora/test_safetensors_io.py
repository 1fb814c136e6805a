"""The safe safetensors reader: hostile headers are refused from the header alone, fast."""

import json
import os
import resource
import struct
import time
import tracemalloc

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


def refused(path, match):
    """read_safetensors refuses with a LoraFormatError that starts with the path and matches."""
    with pytest.raises(LoraFormatError, match=match) as info:
        read_safetensors(path)
    assert str(info.value).startswith(f"{path}: "), info.value
    assert "\n" not in str(info.value)
    return str(info.value)


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
    ({"a": entry(shape=(-1,))}, b"\0" * 8, r"not a list of integers in \[0, 2\*\*63\)"),
    ({"a": entry(shape=(2.0,))}, b"\0" * 8, r"not a list of integers in \[0, 2\*\*63\)"),
    ({"a": entry(shape=(True, 2))}, b"\0" * 8, r"not a list of integers in \[0, 2\*\*63\)"),
    ({"a": entry(shape=(2**64, 0), offsets=(0, 0))}, b"", r"not a list of integers in \[0, 2\*\*63\)"),
    ({"a": entry(shape=(1,) * 9, offsets=(0, 4))}, b"\0" * 4, "9 dimensions, more than any LoRA tensor"),
    ({"a": entry(dtype=["F32"])}, b"\0" * 8, "dtype \\['F32'\\] is not supported"),
    ({"a": entry(offsets=(0,))}, b"\0" * 8, "not a pair"),
    ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "exactly dtype, shape and data_offsets"),
    ({"a": entry(), "__metadata__": {"k": 1}}, b"\0" * 8, "__metadata__ must map strings to strings"),
])
def test_hostile_headers(tmp_path, header, data, match):
    path = write_raw(tmp_path / "h.safetensors", header, data)
    refused(path, match)


def test_hostile_headers_cost_no_memory_or_time(tmp_path, monkeypatch):
    """A header claiming 2**40 bytes or a [2**40, 2**40] tensor is refused from the header alone:
    safetensors is never asked to open it, and neither time nor memory is spent."""
    import safetensors

    def must_not_open(*args, **kwargs):
        raise AssertionError("hostile file reached safe_open")

    monkeypatch.setattr(safetensors, "safe_open", must_not_open)
    cases = [
        (write_raw(tmp_path / "len.safetensors", b"{}", header_len=2**40),
         "header length 1099511627776 exceeds the 16777216-byte cap"),
        (write_raw(tmp_path / "shape.safetensors", {"a": entry(shape=(2**40, 2**40), offsets=(0, 2**62))}),
         r"tensor 'a': data_offsets \[0, 4611686018427387904\] fall outside the 0-byte data section"),
        (write_raw(tmp_path / "cap.safetensors", b"{}" + b" " * 64, header_len=MAX_HEADER_BYTES + 1),
         f"header length {MAX_HEADER_BYTES + 1} exceeds the {MAX_HEADER_BYTES}-byte cap"),
    ]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for path, reason in cases:
        with pytest.raises(LoraFormatError, match=f"{path.name}: not a valid safetensors file: {reason}"):
            read_safetensors(path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB: nothing big was allocated


def test_missing_file(tmp_path):
    with pytest.raises(LoraFormatError, match="cannot read"):
        read_safetensors(tmp_path / "nope.safetensors")


def test_header_claims_more_bytes_than_the_file_has(tmp_path):
    path = write_raw(tmp_path / "short.safetensors", b'{"a":' + b" " * 10, header_len=1000)
    refused(path, r"header length 1000 is larger than the rest of the file \(15 bytes\)")


def test_hostile_lengths_and_shapes_allocate_nothing(tmp_path):
    """The 'before any large allocation' claim, measured: Python's allocator peak stays tiny."""
    cases = {
        write_raw(tmp_path / "len.safetensors", b"{}", header_len=2**40): "exceeds the",
        write_raw(tmp_path / "claims.safetensors", b"{}", header_len=MAX_HEADER_BYTES): "larger than the rest",
        write_raw(tmp_path / "shape.safetensors", {"a": entry(shape=(2**40, 2**40), offsets=(0, 2**62))}):
            "fall outside",
        write_raw(tmp_path / "bytes.safetensors", {"a": entry(shape=(2**40, 2**40), offsets=(0, 8))}, b"\0" * 8):
            "needs 4835703278458516698824704 bytes",
    }
    tracemalloc.start()
    try:
        start = time.perf_counter()
        for path, match in cases.items():
            refused(path, match)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 1_000_000, f"{peak} bytes allocated while refusing"


@pytest.mark.parametrize("header, data, match", [
    ({"a": entry(offsets=(8, 16))}, b"\0" * 16, r"bytes 0 to 8 of the data section belong to no tensor \(a gap before 'a'\)"),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, b"\0" * 20, "bytes 8 to 12 .*a gap before 'b'"),
    ({"a": entry(offsets=(0, 8))}, b"\0" * 12, "the tensors cover 8: 4 trailing bytes belong to no tensor"),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, b"\0" * 12, r"'a' and 'b' overlap \(bytes 4 to 8\)"),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(0, 8))}, b"\0" * 8, "'a' and 'b' overlap"),
])
def test_tensors_must_tile_the_data_section(tmp_path, header, data, match):
    """Decided: gaps, trailing bytes and overlaps are refused by us (safetensors refuses them too,
    with a vaguer message), so every file that passes our header check is also one safetensors reads."""
    refused(write_raw(tmp_path / "t.safetensors", header, data), match)


def test_tensors_in_any_header_order_and_empty_tensors_are_fine(tmp_path):
    header = {"b": entry(offsets=(8, 16)), "empty": entry(shape=(0, 3), offsets=(8, 8)), "a": entry(offsets=(0, 8))}
    tensors, _ = read_safetensors(write_raw(tmp_path / "ok.safetensors", header, bytes(range(16))))
    assert tensors["empty"].shape == (0, 3) and torch.equal(tensors["b"].view(torch.uint8), torch.arange(8, 16, dtype=torch.uint8))


@pytest.mark.parametrize("name, match", [
    ("x" * 5000, "a tensor name of 5000 characters .* more than the 1024-character cap"),
    ("a.lora_A.weight\nlolzoo predict: fake line", r"tensor name 'a.lora_A.weight\\nlolzoo .* control or non-printable"),
    ("a\x00b", "control or non-printable"),
    ("a\u202eb", "control or non-printable"),  # right-to-left override
])
def test_tensor_names_that_are_huge_or_not_printable(tmp_path, name, match):
    refused(write_raw(tmp_path / "n.safetensors", {name: entry()}, b"\0" * 8), match)


def test_odd_but_printable_names_pass_the_header_check(tmp_path):
    tensors, _ = read_safetensors(write_raw(tmp_path / "n.safetensors", {"ünïcødé 名前 \"q\" {}": entry()}, b"\0" * 8))
    assert list(tensors) == ["ünïcødé 名前 \"q\" {}"]


@pytest.mark.parametrize("raw, match", [
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, r"not UTF-8 JSON \(RecursionError\)"),
    (b'{"__metadata__":' + b"[" * 100_000 + b"]" * 100_000 + b"}", r"not UTF-8 JSON \(RecursionError\)"),
    (b'{"__metadata__":{"k":' + b"[" * 50 + b"]" * 50 + b"}}", "__metadata__ must map strings to strings"),
    (b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,0]}}', r"not UTF-8 JSON \(ValueError\)"),
    (b'{"a":NaN}', "entry must have exactly dtype, shape and data_offsets"),
])
def test_deep_or_odd_json(tmp_path, raw, match):
    refused(write_raw(tmp_path / "j.safetensors", raw), match)


def test_many_duplicate_keys_are_refused_fast(tmp_path):
    raw = b"{" + b",".join(b'"k%d":1' % i for i in range(200_000)) + b',"k0":1}'
    start = time.perf_counter()
    refused(write_raw(tmp_path / "dup.safetensors", raw), "duplicate header key 'k0'")
    assert time.perf_counter() - start < 5.0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "x.safetensors"
    os.mkfifo(path)  # nobody writes: a plain open() would wait forever
    refused(path, r"refusing to read a FIFO \(named pipe\): expected a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_a_device_is_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    path.symlink_to("/dev/zero")
    refused(path, "refusing to read a character device")


def test_directory_is_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    path.mkdir()
    refused(path, "refusing to read a directory")
