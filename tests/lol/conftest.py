"""The zoo, the fits and the predict call the CLI tests of lol share.

A test module says what it needs in module constants: COUNT (LoRAs in its zoo), KINDS (model
kinds to fit) and FIT_FLAGS (extra `lolzoo fit` flags for them). A module that fits more
overrides `fitted` with a fixture of the same name that takes this one.
"""

from __future__ import annotations

import json

import pytest

from lolzoo.cli import main
from tests.small_zoo import fit_small, write_small_zoo


@pytest.fixture(scope="module")
def zoo_path(request, tmp_path_factory):
    """A small synthetic zoo of the module's COUNT LoRAs, written once per module."""
    return write_small_zoo(tmp_path_factory.mktemp("zoo") / "zoo.parquet", request.module.COUNT)


@pytest.fixture(scope="module")
def fitted(request, zoo_path, tmp_path_factory):
    """A folder with a brief regression fit of each of the module's KINDS, in fitted/<kind>."""
    root = tmp_path_factory.mktemp("fits")
    for kind in request.module.KINDS:
        fit_small(zoo_path, root / kind, kind, *getattr(request.module, "FIT_FLAGS", ()))
    return root


@pytest.fixture
def predict_jsonl(capsys):
    """Runs `lolzoo predict ARGS...` in process: (exit code, its JSON lines, its stderr)."""
    def run(*args) -> tuple[int, list[dict], str]:
        code = main(["predict", *map(str, args)])
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err
    return run
