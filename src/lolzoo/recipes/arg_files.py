"""Argument files: what a workflow job is told, in a file named after its content.

`lolzoo` reads `@FILE` as the arguments FILE lists, one per line (argparse's
fromfile_prefix_chars, set in lolzoo.cli). The workflow writes a shard's job JSON, a fit's
flags or an aggregate job's long input list into such a file when Snakemake evaluates the
job's params, and passes `@FILE`: the printed shell command stays one short line.

The name holds a hash of the content, so the path changes exactly when the content does:
Snakemake's params rerun trigger sees the path and reruns the job then, and only then. Two
configs never write over each other's file, and a file once written never changes. Paths
are relative to the working directory (`snakemake --directory DIR` writes under DIR).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DIGEST_LENGTH = 12  # hex digits of sha256: a collision among a world's files is out of reach


def arg_file_text(lines: list[str]) -> str:
    """One argument per line; an argument must not hold a line break (it would read as two)."""
    for line in lines:
        if line.splitlines() not in ([], [line]):
            raise ValueError(f"an argument file holds one argument per line, not {line[:60]!r}")
    return "".join(f"{line}\n" for line in lines)


def write_arg_file(lines: list[str], folder: str | Path, name: str, suffix: str = ".args") -> str:
    """FOLDER/NAME-<hash>SUFFIX holding `lines`, written once (atomically) and then left as is."""
    text = arg_file_text([str(line) for line in lines])
    digest = hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]
    path = f"{folder}/{name}-{digest}{suffix}"
    if not os.path.exists(path):  # same name, same content: another process may have written it already
        _write_atomically(str(folder), path, text.encode())
    return path


_made_folders: set[str] = set()


def _write_atomically(folder: str, path: str, data: bytes) -> None:
    """A reader sees the whole file or none. Leaner than lolzoo.io's atomic_file (2.5 times
    faster here): the paper world's DAG writes some 16,000 of these. A temporary named after
    this process is unique enough (Snakemake evaluates params in one thread)."""
    if folder not in _made_folders:
        os.makedirs(folder, exist_ok=True)
        _made_folders.add(folder)
    temporary = f"{folder}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:  # the folder went away since (results/jobs/ deleted)
        _made_folders.discard(folder)
        return _write_atomically(folder, path, data)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
