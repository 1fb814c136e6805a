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
