"""Fixtures of the zoo tests; the helpers live in zoo_helpers."""

from __future__ import annotations

import pytest

from lolzoo.lora.types import Lora
from zoo_helpers import make_lora


@pytest.fixture
def mixed_entries() -> list[tuple[str, Lora]]:
    """Ranks and alphas that differ between LoRAs and, for one LoRA, between modules."""
    specs = [(2, None), (4, 8.0), (2, 3.0), ([1, 4, 2], 16.0), (3, None), (4, 4.0)]
    return [(f"lora-{i:02d}", make_lora(i, rank, alpha)) for i, (rank, alpha) in enumerate(specs)]
