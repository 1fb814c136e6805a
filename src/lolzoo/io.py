"""File helpers shared by every stage. Atomic outputs: a killed job leaves a hidden temporary,
never a file or folder that looks complete.

Everything is first written under a hidden name in the destination's own folder (same file
system, so the final os.replace is a single atomic rename).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | Path):
    """Yield a temporary path; on success it is renamed to `path` (replacing an old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False):
    """Yield an empty staging folder; on success it becomes `path`.

    An existing empty `path` is replaced. A non-empty one is replaced only with overwrite=True
    (it is moved aside first, then deleted), so a typo cannot wipe an unrelated folder. On
    success the staging folders that killed earlier writes of `path` left behind are deleted:
    one job writes a path at a time (Snakemake sees to that), so none of them is still in use.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path}: folder exists and is not empty (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield staging
        if path.is_dir() and any(path.iterdir()):
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / "dir")
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)  # rename(2) may replace an empty folder
        for suffix in ("tmp", "old"):
            for stale in path.parent.glob(f".{glob.escape(path.name)}.*.{suffix}"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
