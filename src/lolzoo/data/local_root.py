"""The local copy of a paper-world dataset: null or missing roots fail in one line, pointing to the download doc."""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import LolzooError

DOC = "docs/paper-world.md"


def existing_root(root, kind: str, download: str, label: str) -> Path:
    """`root` as a Path when it is a folder; else a LolzooError naming the source `kind`
    (celeba), what to download (CelebA) and the `label` used in messages."""
    if root is None:
        raise LolzooError(f"data root of the {kind} source is null: download {download} and set "
                          f"'data.<name>.root' (see {DOC})")
    root = Path(root)
    if not root.is_dir():
        raise LolzooError(f"{label} root {root}: does not exist (see {DOC} for the download)")
    return root
