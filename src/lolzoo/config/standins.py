"""Where the workflow builds the paper-shaped stand-ins (`lolzoo build-standins`, issue 20), and
which configured paths point into them.

A config with a `standins` section has the workflow build them under results/standins/ as its
first job; its `bases.<name>.path` and `data.<name>.root` may then name those folders before
they exist (the config check skips them, the jobs that read them wait for the build).
"""

from __future__ import annotations

from pathlib import PurePosixPath

# part -> its folder under STANDINS_DIR
STANDIN_FOLDERS = {"sd": "sd14", "clip": "clip", "lm": "qwen2-1.5b", "celeba": "CelebA", "imagenette": "imagenette2"}
STANDINS_DIR = "results/standins"


def standin_folder(config: dict, path) -> str | None:
    """The folder directly under results/standins/ that a configured path lies in, when the
    config has a `standins` section and the path points there; else None. The folder need not
    be a stand-in's (the config check names such a path)."""
    if path is None or "standins" not in config:
        return None
    parts, prefix = PurePosixPath(str(path)).parts, PurePosixPath(STANDINS_DIR).parts
    if parts[:len(prefix)] != prefix or len(parts) == len(prefix):
        return None
    return f"{STANDINS_DIR}/{parts[len(prefix)]}"
