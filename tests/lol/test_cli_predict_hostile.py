"""`python -m lolzoo predict` on hostile files: a one-line refusal each, no traceback, exit 1,
and the good LoRA given alongside is still scored."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from lolzoo.lora import write_kohya, write_peft
from lolzoo.synthetic.generator import synthetic_lora
from tests.small_zoo import small_zoo_spec

COUNT = 40
KINDS = ("glnet",)
FIT_FLAGS = ("--epochs", 1)


class WritesMarker:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def model(fitted):
    return fitted / "glnet"


def hostile_files(folder, marker) -> list:
    folder.mkdir()
    lora = synthetic_lora(small_zoo_spec(COUNT), 1)
    nan = write_kohya(lora, folder / "nan.safetensors")
    raw = bytearray(nan.read_bytes())
    raw[-4:] = struct.pack("<f", float("nan"))  # the last weight of the file
    nan.write_bytes(bytes(raw))
    truncated = folder / "truncated.safetensors"
    truncated.write_bytes(nan.read_bytes()[:-10])
    huge_header = folder / "huge_header.safetensors"
    huge_header.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    noise = folder / "noise.safetensors"
    noise.write_bytes(bytes(range(256)) * 4)
    fifo = folder / "fifo.safetensors"
    os.mkfifo(fifo)
    zero = folder / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    pickle = folder / "evil.bin"
    torch.save({"payload": WritesMarker(marker)}, pickle)
    huge_config = write_peft(lora, folder / "huge_config")
    with open(huge_config / "adapter_config.json", "r+b") as handle:
        handle.truncate(2**31)  # sparse
    zero_dim = folder / "zero_dim.safetensors"
    save_file({"lora_unet_a.lora_down.weight": torch.zeros(5, 0), "lora_unet_a.lora_up.weight": torch.zeros(0, 5)},
              str(zero_dim))
    return [nan, truncated, huge_header, noise, fifo, zero, pickle, huge_config, zero_dim]


@pytest.mark.skipif(not (hasattr(os, "mkfifo") and os.path.exists("/dev/zero")), reason="needs FIFOs and /dev/zero")
@pytest.mark.parametrize("allow_pickle", [False, True])
def test_hostile_files_are_refused_in_one_line_and_the_good_one_is_scored(model, tmp_path, allow_pickle):
    marker = tmp_path / "pwned"
    hostile = hostile_files(tmp_path / "hostile", marker)
    good = write_peft(synthetic_lora(small_zoo_spec(COUNT), 2), tmp_path / "good")
    args = [sys.executable, "-m", "lolzoo", "predict", "--model", str(model), *map(str, hostile), str(good)]
    result = subprocess.run(args + (["--allow-pickle"] if allow_pickle else []), capture_output=True, text=True,
                            timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for path in hostile:
        refusals = [line for line in result.stderr.splitlines() if str(path) in line]
        assert len(refusals) == 1, f"{path}: {refusals or result.stderr}"
    assert str(good) in result.stdout
    assert not marker.exists()
