"""Every LoRA under some paths, one at a time: what `lolzoo predict` scores.

    for path in find_loras(["downloads/", "one.safetensors"]):
        lora = read_lora(path)

A path that is a file is one LoRA, whatever its name (read_lora says what is wrong with it).
A folder that is one LoRA is yielded as itself, never descended into:
  - a PEFT adapter (adapter_config.json),
  - a diffusers folder (pytorch_lora_weights.safetensors, or .bin),
  - peft's DreamBooth layout: component subfolders (unet/, text_encoder/, ...) with adapter_config.json.
Any other folder is walked: in sorted order, hidden entries (.git, .cache) skipped, each folder
read once however many symlinks lead to it (no loops), yielding LoRA folders as above and the
files that may be LoRAs: *.safetensors, and pickle checkpoints (.bin/.pt/.pth/.ckpt), which
read_lora refuses unless allow_pickle.  A generator: one folder's names in memory at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from lolzoo.lora.pickle_io import PICKLE_SUFFIXES
from lolzoo.lora.readers import DIFFUSERS_PICKLE, DIFFUSERS_WEIGHTS, PEFT_CONFIG
from lolzoo.lora.types import KNOWN_COMPONENTS

LORA_FILE_SUFFIXES = (".safetensors", *PICKLE_SUFFIXES)


def is_lora_folder(folder: Path) -> bool:
    """A folder read_lora reads as one LoRA, told apart from a folder of many LoRAs: component
    subfolders count only under known component names (a folder of PEFT adapters is many LoRAs)."""
    markers = [PEFT_CONFIG, DIFFUSERS_WEIGHTS, DIFFUSERS_PICKLE]
    markers += [os.path.join(component, PEFT_CONFIG) for component in KNOWN_COMPONENTS]
    return any((folder / marker).is_file() for marker in markers)


def find_loras(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """The LoRA files and folders under `paths`, in the order given and sorted within each folder."""
    seen: set[tuple[int, int]] = set()
    for path in map(Path, paths):
        if path.is_dir() and not is_lora_folder(path):
            yield from _walk(path, seen)
        else:
            yield path


def _walk(folder: Path, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        status = folder.stat()
    except OSError:
        return  # vanished, or a dangling symlink
    if (status.st_dev, status.st_ino) in seen:
        return
    seen.add((status.st_dev, status.st_ino))
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if not entry.name.startswith("."))
    except OSError:
        yield folder  # unreadable: read_lora refuses it with the reason, so it is listed, not lost
        return
    for name in names:
        path = folder / name
        if path.is_dir():
            if is_lora_folder(path):
                yield path
            else:
                yield from _walk(path, seen)
        elif path.suffix in LORA_FILE_SUFFIXES and path.is_file():
            yield path
