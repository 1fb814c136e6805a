"""Draws of one hyperparameter from its config distribution, from a given generator."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def draw(spec, make_rng: Callable[[], np.random.Generator]):
    """A constant stays itself; {choice|uniform|loguniform|randint: ...} is sampled from make_rng()."""
    if not isinstance(spec, dict):
        return spec
    rng = make_rng()  # built only when needed: seeding generators is most of the cost
    (kind, values), = spec.items()
    if kind == "choice":
        return _plain(values[int(rng.integers(len(values)))])
    if kind == "uniform":
        return float(rng.uniform(values[0], values[1]))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(values[0]), math.log(values[1]))))
    if kind == "randint":
        return int(rng.integers(values[0], values[1] + 1))
    raise ValueError(f"unknown distribution {kind!r}")


def _plain(value):
    """numpy scalars out, so CSV and JSON show 0.001 and 4, not np.float64(0.001)."""
    return value.item() if isinstance(value, np.generic) else value
