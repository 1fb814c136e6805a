"""The settings a tuned fit tries: the preset first, then a seeded sample of a grid.

A grid maps a setting (a training key of lolzoo.lol.train.TrainSettings, such as lr, or a model
hyperparameter, such as GL-net's layers) to the values to try. Its full product grows fast
(3 learning rates × 3 weight decays × 2 depths × 3 heads × 2 widths is 108 settings), so a
tuned fit tries `trials` of them: the starting point (the paper's preset with the task's
settings), then distinct settings drawn from the product with a fixed seed, each written as
the starting point with the drawn values over it. Random search of this kind finds settings
as good as a full grid's at a fraction of the cost when few keys matter (Bergstra & Bengio,
2012), and the fixed seed gives every fold and rerun the same candidates.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

import numpy as np

from lolzoo.errors import LolzooError


class TuningError(LolzooError):
    """A grid that cannot be searched (no values for a key, a non-positive number of trials)."""


def check_grid(grid: Mapping) -> dict[str, list]:
    """The grid as {key: [values]}, keys sorted; refuses an empty value list or a non-list."""
    checked = {}
    for key in sorted(grid):
        values = grid[key]
        if not isinstance(values, list) or not values:
            raise TuningError(f"tuning grid key {key!r}: a non-empty list of values to try, got {values!r}")
        checked[str(key)] = list(values)
    return checked


def candidates(start: Mapping, grid: Mapping, trials: int, seed: int = 0) -> list[dict]:
    """Up to `trials` distinct settings: `start` first, then seeded draws from the grid's product
    laid over `start`. Fewer come back when the grid holds fewer distinct settings."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise TuningError(f"trials is a positive integer, got {trials!r}")
    grid = check_grid(grid)
    start = dict(start)
    chosen, seen = [start], {_key(start)}
    if trials == 1 or not grid:
        return chosen
    keys = list(grid)
    product = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    for index in np.random.default_rng(seed).permutation(len(product)):
        setting = {**start, **product[index]}
        if _key(setting) not in seen:
            seen.add(_key(setting))
            chosen.append(setting)
            if len(chosen) == trials:
                break
    return chosen


def _key(setting: Mapping) -> str:
    return json.dumps(setting, sort_keys=True, default=str)
