"""Means, 95% intervals and paired comparisons of scores over folds × seeds (issue 18, item 2).

Input: the scores of ONE (zoo, task, metric) as a pandas DataFrame, one row per run, with
columns (extra columns are ignored; zoo / task / metric, when present, must hold one value):

    model    the model's name
    fold     the cross-validation fold (a single fold, e.g. 0, is the fixed split)
    seed     the training seed
    value    the metric on that fold's test rows
    n_train  the number of training rows of that fold (train + val: what the model learned from)
    n_test   the number of test rows of that fold

Intervals are t intervals with the Nadeau–Bengio corrected resampled variance: CV folds
share most of their training data (and every seed sees the same folds), so the runs are
positively correlated and the naive t interval, variance / J, is too narrow. See
`metric_interval`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lolzoo.errors import LolzooError

COLUMNS = ("model", "fold", "seed", "value", "n_train", "n_test")
FOLDS_X_SEEDS = "folds × seeds (Nadeau-Bengio corrected)"
SEEDS_ONLY = "seeds only (fixed split: covers seed variation, not data variation)"
# The marks `table_rows` puts beside a model, and what they mean (a table legend can print this).
MARKS = {
    "best": "the reference: the best model by mean",
    "≈": "not significantly different from the best (the paired interval contains 0)",
    "": "significantly different from the best",
    "?": "one paired run only: no interval, no verdict",
}


class IntervalError(LolzooError):
    """Scores that cannot give an interval (missing columns, NaN, duplicates, bad sizes)."""


class PairingError(IntervalError):
    """A model shares no (fold, seed) with the best model, so no paired difference exists."""


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # NaN when there is no interval (a single run)
    high: float
    std_error: float  # the (corrected) standard error of the mean; NaN for a single run
    runs: int  # J, the number of fold × seed values
    confidence: float
    scope: str  # FOLDS_X_SEEDS, or SEEDS_ONLY for a fixed split

    @property
    def has_interval(self) -> bool:
        return self.runs > 1

    def excludes_zero(self) -> bool:
        return self.has_interval and (self.low > 0 or self.high < 0)


# The range each headline metric can take: a t interval of few runs can reach past it (an
# accuracy interval of [-0.4, 1.3]); its bounds are cut there, the mean never is.
METRIC_RANGES = {"mse": (0.0, math.inf), "loss": (0.0, math.inf), "r2": (-math.inf, 1.0),
                 "kendall_tau": (-1.0, 1.0), "accuracy": (0.0, 1.0), "auroc": (0.0, 1.0)}


def metric_interval(values, n_train, n_test, confidence: float = 0.95, *,
                    fixed_split: bool = False, metric: str | None = None) -> Interval:
    """The mean of J fold × seed scores and its t interval with J − 1 degrees of freedom.

    The variance of the mean is the Nadeau–Bengio corrected resampled variance
    s² · (1/J + n_test/n_train), s² the sample variance of the J values (Nadeau & Bengio 2003,
    "Inference for the Generalization Error", Machine Learning 52:239–281; applied to repeated
    k-fold CV by Bouckaert & Frank 2004). The naive s²/J ignores that runs trained on
    overlapping data are correlated, and covers the truth far less often than it claims.
    n_train / n_test are numbers or one per value; their means give the ratio.
    The correction is a heuristic: when folds are fixed and every seed reuses them, seeds of
    one fold are more alike than it assumes, and a large fold effect makes the interval cover
    somewhat less than its confidence (still far more than the naive one).

    fixed_split=True (folds = 1): every run saw the same train and test rows, so the values
    differ by seed only; the interval is the plain t interval over seeds and only covers
    seed variation, not which LoRAs happened to land in the test set. The correction models
    resampled training sets, which a fixed split does not have.

    J = 1 gives the value with NaN bounds (`has_interval` is False). `metric` (a key of
    METRIC_RANGES) cuts the bounds at the range that metric can take.
    """
    if not 0 < confidence < 1:
        raise IntervalError(f"confidence is between 0 and 1, got {confidence!r}")
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise IntervalError("no values: an interval needs at least one fold × seed score")
    if not np.all(np.isfinite(values)):
        raise IntervalError(f"{int((~np.isfinite(values)).sum())} of {values.size} values are NaN or infinite")
    ratio = _size_ratio(n_train, n_test)
    runs = values.size
    scope = SEEDS_ONLY if fixed_split else FOLDS_X_SEEDS
    mean = float(values.mean())
    if runs == 1:
        return Interval(mean, math.nan, math.nan, math.nan, 1, confidence, scope)
    factor = 1.0 / runs + (0.0 if fixed_split else ratio)
    std_error = math.sqrt(float(values.var(ddof=1)) * factor)
    half = float(stats.t.ppf(0.5 + confidence / 2, runs - 1)) * std_error
    floor, ceiling = METRIC_RANGES.get(metric, (-math.inf, math.inf))
    return Interval(mean, max(mean - half, floor), min(mean + half, ceiling), std_error, runs, confidence, scope)


def _size_ratio(n_train, n_test) -> float:
    train = np.asarray(n_train, dtype=np.float64)
    test = np.asarray(n_test, dtype=np.float64)
    if not (np.all(np.isfinite(train)) and np.all(train > 0) and np.all(np.isfinite(test)) and np.all(test > 0)):
        raise IntervalError("n_train and n_test are positive numbers of rows")
    return float(test.mean() / train.mean())


@dataclass(frozen=True)
class Comparison:
    model: str
    reference: bool  # True on the best model's own row
    metric: Interval  # the model's own mean and interval
    difference: Interval | None  # model − best over shared (fold, seed); None on the reference row
    pairs: int  # shared (fold, seed) runs; on the reference row, its own runs

    @property
    def significant(self) -> bool | None:
        """Whether the paired interval excludes 0; None on the reference row or with one pair."""
        if self.difference is None or not self.difference.has_interval:
            return None
        return self.difference.excludes_zero()


def paired_differences(table: pd.DataFrame, metric_higher_is_better: bool = True,
                       confidence: float = 0.95) -> list[Comparison]:
    """Every model against the best one (by mean), paired on the same fold and seed.

    Pairing removes what a fold does to every model alike (an easy or hard test fold), which
    unpaired intervals count as noise. Only (fold, seed) present for both models are paired;
    a model with none raises PairingError. Rows: the best first, then the rest by mean.
    """
    table = _checked(table)
    fixed_split = table["fold"].nunique() == 1
    means = table.groupby("model", sort=True)["value"].mean()
    ordered = means.sort_values(ascending=not metric_higher_is_better, kind="stable")
    best = ordered.index[0]  # ties: the first by name, since groupby sorted the names
    runs = {model: rows.set_index(["fold", "seed"]) for model, rows in table.groupby("model", sort=False)}

    def interval(rows: pd.DataFrame, values) -> Interval:
        return metric_interval(values, rows["n_train"], rows["n_test"], confidence, fixed_split=fixed_split)

    own = runs[best]
    comparisons = [Comparison(str(best), True, interval(own, own["value"]), None, len(own))]
    for model in ordered.index[1:]:
        other = runs[model]
        shared = other.index.intersection(own.index)
        if len(shared) == 0:
            raise PairingError(
                f"model {model!r} shares no (fold, seed) with the best model {best!r}: "
                f"{model!r} has {_runs_text(other)}, {best!r} has {_runs_text(own)}")
        difference = other.loc[shared, "value"] - own.loc[shared, "value"]
        comparisons.append(Comparison(str(model), False, interval(other, other["value"]),
                                      interval(own.loc[shared], difference), len(shared)))
    return comparisons


def _runs_text(rows: pd.DataFrame) -> str:
    levels = (sorted(set(rows.index.get_level_values(name))) for name in ("fold", "seed"))
    return "folds {} × seeds {}".format(*levels)


def _checked(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise IntervalError(f"scores are a pandas DataFrame with columns {', '.join(COLUMNS)}; "
                            f"got {type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise IntervalError(f"scores lack the column(s) {', '.join(missing)}; they need {', '.join(COLUMNS)}")
    if table.empty:
        raise IntervalError("no scores: the table has no rows")
    for column in ("zoo", "task", "metric"):  # one interval mixes nothing else
        if column in table.columns and table[column].nunique(dropna=False) > 1:
            raise IntervalError(f"scores of one {column} at a time; got {sorted(map(str, table[column].unique()))}")
    duplicated = table.duplicated(["model", "fold", "seed"], keep=False)
    if duplicated.any():
        first = table.loc[duplicated].iloc[0]
        raise IntervalError(f"{int(duplicated.sum())} rows repeat a (model, fold, seed), e.g. "
                            f"model {first['model']!r} fold {first['fold']} seed {first['seed']}")
    bad = ~np.isfinite(pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=np.float64))
    if bad.any():
        first = table.loc[bad].iloc[0]
        raise IntervalError(f"{int(bad.sum())} values are missing or not finite, e.g. "
                            f"model {first['model']!r} fold {first['fold']} seed {first['seed']}")
    return table.loc[:, list(COLUMNS)].astype({"value": np.float64})


def table_rows(comparisons: list[Comparison], digits: int = 2) -> list[dict]:
    """One dict per model for a table: the metric and the difference to the best as
    "0.63 [0.55, 0.71]" text, the number of paired runs, and a mark from MARKS."""
    rows = []
    for c in comparisons:
        if c.reference:
            mark, difference = "best", "reference"
        else:
            mark = {None: "?", True: "", False: "≈"}[c.significant]
            difference = _text(c.difference, digits, signed=True)
        rows.append({"model": c.model, "metric": _text(c.metric, digits), "difference": difference,
                     "runs": c.pairs, "mark": mark, "scope": c.metric.scope})
    return rows


def _text(interval: Interval, digits: int, signed: bool = False) -> str:
    number = f"{{:{'+' if signed else ''}.{digits}f}}"
    if not interval.has_interval:
        return f"{number.format(interval.mean)} [one run, no interval]"
    return f"{number.format(interval.mean)} [{number.format(interval.low)}, {number.format(interval.high)}]"


def paired_difference(table: pd.DataFrame, model: str, other: str, metric_higher_is_better: bool = True,
                      confidence: float = 0.95) -> Interval:
    """`model` against one chosen `other` (not the best): the mean and interval of their paired
    difference on the (fold, seed) runs both have, signed so that a positive difference means
    `model` is better. Same scores table as `paired_differences`; PairingError when either model
    is missing or they share no run."""
    table = _checked(table)
    fixed_split = table["fold"].nunique() == 1
    own = table[table["model"] == model].set_index(["fold", "seed"])
    theirs = table[table["model"] == other].set_index(["fold", "seed"])
    if own.empty or theirs.empty:
        missing = [name for name, rows in ((model, own), (other, theirs)) if rows.empty]
        raise PairingError(f"no runs of {', '.join(map(repr, missing))} to pair")
    shared = own.index.intersection(theirs.index)
    if len(shared) == 0:
        raise PairingError(f"model {model!r} shares no (fold, seed) with {other!r}: {model!r} has "
                           f"{_runs_text(own)}, {other!r} has {_runs_text(theirs)}")
    difference = own.loc[shared, "value"] - theirs.loc[shared, "value"]
    if not metric_higher_is_better:
        difference = -difference
    return metric_interval(difference, own.loc[shared, "n_train"], own.loc[shared, "n_test"], confidence,
                           fixed_split=fixed_split)
