"""The test world, run once per session end to end: the workflow tests that read what a whole
run writes (tables, the results document, the reliability tables) share it instead of each
paying the ~6 minutes of a run of their own."""

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.workflow.runner import snakemake


@pytest.fixture(scope="session")
def test_world_run(tmp_path_factory) -> tuple[Path, str]:
    """The test world run once, end to end, in a fresh working directory: the directory and
    what Snakemake printed."""
    workdir = tmp_path_factory.mktemp("test_world")
    result = snakemake(workdir, "--configfile", str(REPO / "config/test.yaml"), "--cores", "2")
    return workdir, result.stdout + result.stderr


@pytest.fixture(scope="session")
def test_world(test_world_run) -> Path:
    return test_world_run[0]
