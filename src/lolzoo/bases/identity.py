"""Who a base is: its name (what LoRAs declare as their base) and a content hash of its weights.

The name comes from the base folder's card (base.json, lolzoo.bases.loading): a pretrained base
is its hub name (CompVis/stable-diffusion-v1-4, Qwen/Qwen2-1.5B), a GGUF conversion the file it
came from, and a base lolzoo built itself `lolzoo/<kind>-<folder name>` (lolzoo/tiny-sd-sd), so
that the two tiny SD bases of the default world keep apart. The name alone cannot tell a
stand-in or a re-download from the real thing; the hash can: sha256 over every weight file of
the folder (relative path and the file's own sha256, in path order), symlinks followed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lolzoo.bases.loading import CARD_FILE, read_card

# what counts as weights: the files a loader reads tensors from (configs and tokenizers are not)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
BUILT_PREFIX = "lolzoo/"


def base_name(folder: str | Path) -> str:
    """The name LoRAs of this base declare, from its card alone (no weights are read). A folder
    without a card (a plain Hugging Face model folder) is named by where it is: lolzoo.lol.predict
    takes a path for a location, not an identity, and compares nothing."""
    folder = Path(folder)
    if folder.is_dir() and not (folder / CARD_FILE).is_file():
        return str(folder.resolve())
    card = read_card(folder)
    kind = card.get("kind", "unknown")
    if kind == "pretrained" and card.get("name"):
        return str(card["name"])
    if kind == "gguf" and card.get("file"):
        return str(card["file"]).removesuffix(".gguf")
    return f"{BUILT_PREFIX}{kind}-{folder.resolve().name}"


def weights_sha256(folder: str | Path) -> tuple[str, int, int]:
    """(sha256 hex, number of weight files, their bytes) of every weight file under `folder`."""
    folder = Path(folder)
    # os.walk follows links: `lolzoo fetch-base --path` links a local copy's unet/, vae/ ... in
    files = sorted(Path(root) / name for root, _, names in os.walk(folder, followlinks=True) for name in names
                   if name.endswith(WEIGHT_SUFFIXES) and not name.startswith(".") and (Path(root) / name).is_file())
    combined, total = hashlib.sha256(), 0
    for path in files:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        combined.update(f"{path.relative_to(folder).as_posix()}\0{digest}\n".encode())
        total += path.stat().st_size
    return combined.hexdigest(), len(files), total


def base_identity(folder: str | Path) -> dict:
    """{"name", "kind", "sha256", "weight_files", "weight_bytes", "source"}: what a zoo records of its base."""
    folder = Path(folder)
    card = read_card(folder)
    digest, count, size = weights_sha256(folder)
    if not count:
        raise FileNotFoundError(f"{folder}: a base folder without weight files ({', '.join(WEIGHT_SUFFIXES)})")
    identity = {"name": base_name(folder), "kind": card.get("kind", "unknown"), "sha256": digest,
                "weight_files": count, "weight_bytes": size}
    for key in ("role", "source", "linked", "seed", "wheel", "file"):
        if key in card:
            identity[key] = card[key]
    return identity
