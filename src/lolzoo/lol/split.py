"""Train / val / test assignment from a LoRA's stable id alone.

sha256(lora_id) is read as a number uniform in [0, 1) and cut at the cumulative fractions.
Nothing depends on the other LoRAs, so a LoRA keeps its split when the zoo grows, a rerun
on a subset agrees with the full run, and no split list has to be stored beside a zoo.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from lolzoo.errors import LolzooError

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


class SplitError(LolzooError):
    """Fractions that do not describe three splits, or a split that would be empty."""


def split_position(lora_id: str) -> float:
    """A number in [0, 1) fixed by the id: the first 8 bytes of sha256(id) over 2^64."""
    digest = hashlib.sha256(lora_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(f) for f in fractions)
    if len(values) != len(SPLITS):
        raise SplitError(f"split fractions need one value each for {'/'.join(SPLITS)}, got {list(values)}")
    if any(not math.isfinite(f) or f <= 0 for f in values):
        raise SplitError(f"split fractions must be positive (every split is used), got {list(values)}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise SplitError(f"split fractions must add up to 1, got {list(values)} (sum {sum(values):g})")
    return values  # type: ignore[return-value]


def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError as err:
        raise SplitError(f"split fractions are three numbers like 0.8,0.1,0.1, got {text!r}") from err
    return check_fractions(values)


def assign_splits(lora_ids: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                  require_nonempty: bool = True) -> np.ndarray:
    """The split name of every id (an array of 'train' / 'val' / 'test'); raises if a split is empty."""
    fractions = check_fractions(fractions)
    positions = np.array([split_position(i) for i in lora_ids], dtype=np.float64)
    edges = np.cumsum(fractions)[:-1]  # the last edge is 1: positions are < 1
    names = np.array(SPLITS)[np.searchsorted(edges, positions, side="right")]
    if not require_nonempty:
        return names
    for name, low, high in zip(SPLITS, np.concatenate([[0.0], edges]), np.concatenate([edges, [1.0]])):
        if not (names == name).any():
            raise SplitError(f"split {name!r} would be empty: none of the {len(names)} LoRAs falls in its share "
                             f"[{low:.3g}, {high:.3g}) of the id hash; use more LoRAs or a larger fraction")
    return names


# --- cross-validation folds ---------------------------------------------------------------
# The same hash position, cut into K equal intervals: fold = floor(position · K). A LoRA's fold,
# like its split, depends on its id alone, so it keeps it when the zoo grows. Inside its fold's
# interval a LoRA has a second position, (position · K) mod 1, independent of the fold; the
# lowest val_fraction of it marks the LoRAs that validate whenever their fold is not the test fold.


def _check_folds(folds: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise SplitError(f"the number of folds is a positive integer, got {folds!r}")


def _fold_positions(lora_ids: Sequence[str], folds: int) -> tuple[np.ndarray, np.ndarray]:
    _check_folds(folds)
    scaled = np.array([split_position(i) for i in lora_ids], dtype=np.float64) * folds
    fold = np.minimum(np.floor(scaled).astype(np.int64), folds - 1)  # a position that rounded to 1.0
    return fold, np.clip(scaled - fold, 0.0, np.nextafter(1.0, 0.0))


def _fold_roles(fold: np.ndarray, inner: np.ndarray, k: int, val_fraction: float) -> np.ndarray:
    return np.where(fold == k, "test", np.where(inner < val_fraction, "val", "train"))


def assign_folds(lora_ids: Sequence[str], folds: int) -> np.ndarray:
    """The fold (0 .. folds-1) of every id: floor(split_position(id) · folds)."""
    return _fold_positions(lora_ids, folds)[0]


def cv_splits(lora_ids: Sequence[str], folds: int, val_fraction: float = 0.1,
              fractions: Sequence[float] = DEFAULT_FRACTIONS) -> list[np.ndarray]:
    """Per fold k, the split name of every id: 'test' for fold k; of the rest, 'val' where the
    position inside the LoRA's own fold is below val_fraction, 'train' otherwise.

    A test id of fold k is never in fold k's train or val, so no test fold reaches model selection.
    folds=1 is today's fixed split, assign_splits(lora_ids, fractions) (val_fraction unused).
    Raises SplitError naming the fold and split that would be empty.
    """
    if folds == 1:
        return [assign_splits(lora_ids, fractions)]
    if not (0.0 < float(val_fraction) < 1.0):
        raise SplitError(f"val_fraction is a number strictly between 0 and 1, got {val_fraction!r}")
    fold, inner = _fold_positions(lora_ids, folds)
    result = []
    for k in range(folds):
        names = _fold_roles(fold, inner, k, val_fraction)
        for name in ("test", "val", "train"):  # an empty fold first: it is the likeliest cause
            if not (names == name).any():
                raise SplitError(f"fold {k} of {folds}: split {name!r} would be empty with {len(names)} LoRAs "
                                 f"(val_fraction {val_fraction:g});"
                                 f" use more LoRAs, fewer folds or another val_fraction")
        result.append(names)
    return result


def fold_split(lora_ids: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS, folds: int = 1,
               fold: int = 0, require_nonempty: bool = True) -> np.ndarray:
    """The split name of every id in fold `fold` of `folds`: what one `lolzoo fit` trains, validates and tests on.

    folds=1 (fold 0) is the fixed split, assign_splits(lora_ids, fractions). With more folds the test
    set is fold `fold` and the val share of `fractions` is the val_fraction of cv_splits: that share
    of the other folds' LoRAs validates, the rest trains (the train and test shares are unused).
    require_nonempty=False skips the check that every split of every fold has a LoRA.
    """
    _check_folds(folds)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < folds:
        raise SplitError(f"fold {fold!r} is not one of the {folds} folds (0 to {folds - 1})")
    if folds == 1:
        return assign_splits(lora_ids, fractions, require_nonempty)
    val_fraction = check_fractions(fractions)[1]
    if require_nonempty:
        return cv_splits(lora_ids, folds, val_fraction)[fold]
    return _fold_roles(*_fold_positions(lora_ids, folds), fold, val_fraction)


# --- learning curves ----------------------------------------------------------------------
UNUSED = "unused"  # a training LoRA left out by a learning curve's smaller share


def keep_training_share(names: np.ndarray, lora_ids: Sequence[str], share: float) -> np.ndarray:
    """The split names with all but `share` of the 'train' LoRAs renamed 'unused'.

    The LoRAs kept are the first round(share · n) train LoRAs by a salted hash of their id, so the
    25% share is inside the 50% share (the curve adds LoRAs, never swaps them), and val and test
    are untouched: a learning curve changes only what the model trains on."""
    share = float(share)
    if not 0.0 < share <= 1.0:
        raise SplitError(f"a training share lies in (0, 1], got {share!r}")
    names = np.asarray(names).astype(object)
    train = np.flatnonzero(names == "train")
    if share == 1.0 or not len(train):
        return names
    order = sorted(train, key=lambda row: split_position(f"curve:{lora_ids[row]}"))
    keep = max(1, round(share * len(train)))
    out = names.copy()
    out[order[keep:]] = UNUSED
    return out
