"""The reliability table of one evaluated zoo: every label its LoL tasks target or its evaluation
measures, with how repeatable it is and the noise ceiling that implies (lolzoo.report.reliability).

The first measurement is the zoo's own label column. The second comes from the re-measurement's
label files (one <lora_id>.json per sampled LoRA), read per label:

- `<label>_even` and `<label>_odd` (lolzoo evaluate-language --halves): split-half over even and
  odd questions, Spearman-Brown corrected to the full length;
- else `<label>` (lolzoo evaluate-diffusion --seed under another seed): test-retest against the
  zoo's value.

A measured label without a second measurement, or whose estimate is refused (too few LoRAs, a
constant label: a tiny world's CLIP scores may all clamp to 0), is "unmeasured", with the reason.
Every other label is data (attributes, classes, source membership, dataset size, question
counts): fixed by construction, so "exact".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from lolzoo.errors import LolzooError
from lolzoo.report.reliability import MIN_LORAS, ReliabilityError, split_half, test_retest

# What the evaluations measure (diffusion: CLIP score; language: validation loss and ARC-C
# accuracy); every other label column is fixed by the LoRA's finetuning data.
MEASURED_LABELS = ("clip_score", "val_loss", "arc_c_accuracy", "arc_c_accuracy_norm")
EXACT_WHY = "a data label: fixed by construction"
HALVES = ("even", "odd")


class ReliabilityInputError(LolzooError):
    """Retest files that are missing, unreadable, or about LoRAs the zoo does not hold."""


def read_retest(paths: list[Path]) -> dict[str, dict]:
    """lora_id -> its re-measured labels, from label folders (<lora_id>.json) or single files."""
    measured = {}
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.glob("*.json") if not p.name.startswith("."))
            if not files:
                raise ReliabilityInputError(f"--retest {path}: holds no <lora_id>.json label file")
        elif path.is_file():
            files = [path]
        else:
            raise ReliabilityInputError(f"--retest {path}: no such retest file or folder")
        for file in files:
            try:
                labels = json.loads(file.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as error:
                raise ReliabilityInputError(f"{file}: not a JSON label file ({error})") from None
            if not isinstance(labels, dict):
                raise ReliabilityInputError(f"{file}: a label file holds one JSON object, not {type(labels).__name__}")
            if file.stem in measured:
                raise ReliabilityInputError(f"{file}: LoRA {file.stem} is re-measured twice")
            measured[file.stem] = labels
    return measured


def label_rows(zoo_columns: list[str], label_columns: list[str], targets: list[str]) -> list[str]:
    """The labels the table has a row for: the measured ones the zoo holds, then every target
    (a `*` pattern stands for each matching label column, in file order)."""
    import fnmatch

    rows = [label for label in MEASURED_LABELS if label in zoo_columns]
    for target in targets:
        if "*" in target:
            matched = [name for name in label_columns if fnmatch.fnmatchcase(name, target)]
            if not matched:
                raise ReliabilityInputError(f"--targets {target}: no label column of the zoo matches it")
            rows += matched
        elif target in zoo_columns:
            rows.append(target)
        else:
            raise ReliabilityInputError(f"--targets {target}: the zoo has no such column")
    return list(dict.fromkeys(rows))


def reliability_report(zoo_table: pd.DataFrame, zoo_name: str, retest: dict[str, dict], labels: list[str],
                       seeds: tuple[int, int] | None = None, min_loras: int = MIN_LORAS,
                       confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """reliability.json's content (contract 18 B) for `labels` of a zoo table (lora_id + labels)."""
    by_id = zoo_table.set_index("lora_id")
    unknown = sorted(set(retest) - set(by_id.index))
    if unknown:
        raise ReliabilityInputError(f"retest LoRA {unknown[0]} is not in zoo {zoo_name} "
                                    f"({len(unknown)} re-measured LoRA(s) the zoo does not hold)")
    ids = sorted(retest)
    result = {}
    for label in labels:
        if label not in MEASURED_LABELS:
            result[label] = {"status": "exact", "why": EXACT_WHY}
            continue
        halves = [f"{label}_{half}" for half in HALVES]
        try:
            if ids and all(all(key in retest[i] for key in halves) for i in ids):
                first, second = ([retest[i][key] for i in ids] for key in halves)
                estimate = split_half(first, second, confidence=confidence, resamples=resamples, seed=seed,
                                      min_loras=min_loras)
            elif ids and all(label in retest[i] for i in ids):
                first, second = by_id.loc[ids, label].to_numpy(), [retest[i][label] for i in ids]
                estimate = test_retest(first, second, confidence=confidence, resamples=resamples, seed=seed,
                                       min_loras=min_loras)
            else:
                result[label] = {"status": "unmeasured",
                                 "why": "no second measurement of it in the retest files"}
                continue
        except (ReliabilityError, TypeError, ValueError) as error:
            result[label] = {"status": "unmeasured", "why": str(error)}
            continue
        result[label] = {"status": "measured", **estimate.to_dict()}
    return {"zoo": zoo_name, "sample": len(ids),
            "seeds": {"first": seeds[0], "second": seeds[1]} if seeds else None, "labels": result}


def interval(value: float, low: float, high: float) -> str:
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def reliability_frame(report: dict) -> pd.DataFrame:
    """One row per label, as the .csv (numbers) holds it."""
    rows = []
    for label, entry in report["labels"].items():
        row = {"label": label, "status": entry["status"]}
        if entry["status"] == "measured":
            row.update({key: entry[key] for key in ("method", "n", "correlation", "reliability", "reliability_low",
                                                    "reliability_high", "ceiling_r2", "ceiling_r2_low",
                                                    "ceiling_r2_high", "ceiling_tau", "ceiling_tau_low",
                                                    "ceiling_tau_high", "ceilings_clipped")})
        else:
            row["why"] = entry["why"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "n" in frame:
        frame["n"] = frame["n"].astype("Int64")  # blank, not NaN, for unmeasured and exact rows
    return frame


def shown_frame(report: dict) -> pd.DataFrame:
    """One row per label, as people read it (.md, .html): value [95% interval]."""
    rows = []
    for label, entry in report["labels"].items():
        if entry["status"] == "measured":
            note = "indicative only (n < 30)" if entry["n"] < MIN_LORAS else ""
            if entry["ceilings_clipped"]:
                note = "; ".join(filter(None, [note, "ceilings clipped to [0, 1]"]))
            rows.append({"label": label,
                         "reliability": interval(entry["reliability"], entry["reliability_low"],
                                                 entry["reliability_high"]),
                         "ceiling R²": interval(entry["ceiling_r2"], entry["ceiling_r2_low"], entry["ceiling_r2_high"]),
                         "ceiling τ": interval(entry["ceiling_tau"], entry["ceiling_tau_low"],
                                               entry["ceiling_tau_high"]),
                         "method": entry["method"], "n": entry["n"], "note": note})
        else:
            text = f"{entry['status']} ({entry['why']})"
            rows.append({"label": label, "reliability": text, "ceiling R²": "", "ceiling τ": "", "method": "",
                         "n": "", "note": ""})
    return pd.DataFrame(rows, columns=["label", "reliability", "ceiling R²", "ceiling τ", "method", "n", "note"])


def caption(report: dict) -> str:
    seeds = report["seeds"]
    how = (f"CLIP scores under evaluation seed {seeds['first']} (the zoo's) and {seeds['second']} (independent noise)"
           if seeds else "the evaluation is deterministic: split-half over even and odd questions, Spearman-Brown "
                         "corrected to the full length")
    return (f"Zoo {report['zoo']}: {report['sample']} LoRAs measured twice ({how}). Reliability = the share of a "
            f"label's variance that is not measurement noise; ceiling R² and τ = the best any predictor can score "
            f"against one measurement. 95% bootstrap intervals over LoRAs. Data labels are exact by construction.")


def markdown(frame: pd.DataFrame, note: str) -> str:
    """A pipe table without the optional `tabulate` dependency."""
    def cell(value) -> str:
        if isinstance(value, float) and math.isnan(value):
            return ""
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + f"\n\n{note}\n"
