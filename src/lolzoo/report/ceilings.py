"""The noise ceiling of a (zoo, task) column group, from the zoos' reliability files
(contract B of issue 18: results/report/{zoo}/reliability.json, written from
lolzoo.report.reliability).

- every target a measured label: R² and Kendall τ ceilings with their intervals (several
  targets: the mean of their ceilings and of their bounds, as R² and τ are means over targets);
- every target a data label: "exact", in every metric column of the group; a label no
  evaluation measures (reliability_table.MEASURED_LABELS) is exact with or without a file, so a
  synthetic zoo, whose labels are computed from its weights, gets "exact" too;
- otherwise (a label unmeasured, missing from the file, no file for the zoo, a mix): none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lolzoo.report.compare import HEADLINE_METRICS, CompareError, Group
from lolzoo.report.reliability_table import EXACT_WHY, MEASURED_LABELS

MEASURED, EXACT = "measured", "exact"
CEILING_METRICS = {"r2": "ceiling_r2", "kendall_tau": "ceiling_tau"}  # table metric -> Reliability field


@dataclass(frozen=True)
class Ceiling:
    status: str  # MEASURED or EXACT
    value: float  # NaN when EXACT
    low: float
    high: float
    method: str = ""


def read_reliability(paths) -> dict[str, dict]:
    """zoo name -> {label: entry} of each reliability.json; a malformed file is a one-line error."""
    found, origin = {}, {}
    for path in map(Path, paths or ()):
        try:
            document = json.loads(path.read_text())
            zoo, labels = str(document["zoo"]), document["labels"]
            for label, entry in labels.items():
                status = entry["status"]
                if status == MEASURED:
                    for field in CEILING_METRICS.values():
                        for suffix in ("", "_low", "_high"):
                            float(entry[field + suffix])
                elif status not in (EXACT, "unmeasured"):
                    raise ValueError(f"label {label!r} has status {status!r}, not measured, exact or unmeasured")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
            reason = f"missing key {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
            raise CompareError(f"{path}: not a reliability file of issue 18's contract B ({' '.join(reason.split())})"
                               ) from err
        if zoo in found:
            raise CompareError(f"{origin[zoo]} and {path} are both reliability files of zoo {zoo}; give one")
        found[zoo], origin[zoo] = labels, path
    return found


def group_ceilings(group: Group, reliability: dict[str, dict]) -> dict[str, Ceiling]:
    """metric -> Ceiling for the group's metrics that have one (see the module's rules)."""
    labels = reliability.get(group.zoo, {})
    computed = {"status": EXACT, "why": EXACT_WHY}  # no evaluation measures it: nothing to repeat
    entries = [labels.get(target, None if target in MEASURED_LABELS else computed) for target in group.targets]
    if not entries or any(entry is None for entry in entries):
        return {}
    statuses = {entry["status"] for entry in entries}
    if statuses == {EXACT}:
        return {name: Ceiling(EXACT, np.nan, np.nan, np.nan) for name in HEADLINE_METRICS[group.task]}
    if statuses != {MEASURED} or group.task != "regression":
        return {}
    methods = sorted({str(entry.get("method", "")) for entry in entries})
    return {metric: Ceiling(MEASURED, *(float(np.mean([float(entry[field + suffix]) for entry in entries]))
                                        for suffix in ("", "_low", "_high")), method="; ".join(methods))
            for metric, field in CEILING_METRICS.items()}
