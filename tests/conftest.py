"""Shared fixtures: the repository root and the shipped configs."""

from pathlib import Path

import pytest
import torch

# The tests' tensors are tiny: intra-op threads only add overhead, and on a busy 2-CPU
# machine their contention made a GL-net training step 200x slower (0.8 s instead of 4 ms).
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def paper_standins(tmp_path_factory) -> Path:
    """The SD 1.4, CLIP ViT-B/16 and CelebA stand-ins (lolzoo build-standins), built once per test
    session for every test that needs them: about a minute and 4 GB of disk."""
    from lolzoo.cli import main

    out = tmp_path_factory.mktemp("standins")
    assert main(["build-standins", "--out", str(out), "--parts", "sd", "clip", "celeba", "--identities", "2"]) == 0
    return out
