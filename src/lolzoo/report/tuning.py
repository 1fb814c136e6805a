"""The tuned settings of `lolzoo fit-cv` runs: per (zoo, task, model), the grid tried, the
setting chosen for each outer fold (by validation loss at the selection seed, never test), and
the mean validation loss of the chosen settings against the preset's on the same folds.

The preset is the grid's starting point: the trial a selection row marks `"preset": true`, else
trial 0. Only the grid's keys with more than one value are shown (the others are fixed).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lolzoo.report.compare import MODEL_NAMES, CompareError
from lolzoo.report.cv_scores import Source

COLUMNS = ["zoo", "task", "targets", "model", "name", "grid_size", "folds", "chosen", "val_loss_chosen",
           "val_loss_preset", "selection_s"]
SHORT = {"lr": "lr", "learning_rate": "lr", "weight_decay": "wd", "layers": "layers", "depth": "layers",
         "head": "head", "hidden": "hidden", "width": "width", "epochs": "epochs", "batch_size": "batch"}


def tuning_table(sources: list[Source]) -> pd.DataFrame:
    """One row per fit-cv folder with a grid (the reference and plain fits have none)."""
    rows = []
    for source in sources:
        if source.cv is None or not source.cv.get("selection"):
            continue
        path = source.path
        try:
            rows.append(_row(source))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            reason = f"missing key {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
            raise CompareError(f"{path}/cv.json: its selection or chosen settings are malformed "
                               f"({' '.join(reason.split())})") from err
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {m: i for i, m in enumerate(MODEL_NAMES)}
    return table.sort_values(["zoo", "task", "targets", "model"],
                             key=lambda c: c.map(lambda m: order.get(m, len(order))) if c.name == "model" else c,
                             kind="stable").reset_index(drop=True)


def _row(source: Source) -> dict:
    document, group = source.cv, source.group
    settings, selection = document["settings"], document["selection"]
    chosen = {int(fold): setting for fold, setting in document["chosen"].items()}
    varied = [key for key, values in (settings.get("grid") or {}).items()
              if isinstance(values, list) and len(values) > 1]
    trials = {int(row["trial"]) for row in selection}
    preset_trial = next((int(row["trial"]) for row in selection if row.get("preset")), 0)
    by_fold = {}
    for row in selection:
        by_fold.setdefault(int(row["fold"]), {})[int(row["trial"])] = row
    chosen_losses, preset_losses = [], []
    for fold, setting in chosen.items():
        trials_of_fold = by_fold.get(fold, {})
        match = [r for r in trials_of_fold.values() if r["setting"] == setting]
        if match:
            chosen_losses.append(min(float(r["val_loss"]) for r in match))
        if preset_trial in trials_of_fold:
            preset_losses.append(float(trials_of_fold[preset_trial]["val_loss"]))
    return {"zoo": group.zoo, "task": group.task, "targets": group.targets_label, "model": source.model,
            "name": MODEL_NAMES.get(source.model, source.model),
            "grid_size": int(settings.get("trials") or len(trials)), "folds": len(chosen),
            "chosen": chosen_text(chosen, varied),
            "val_loss_chosen": _mean(chosen_losses), "val_loss_preset": _mean(preset_losses),
            "selection_s": float(sum(float(r.get("seconds") or 0.0) for r in selection))}


def setting_text(setting: dict, keys: list[str] | None = None) -> str:
    """"lr 0.001, wd 0.01, layers 2, head module-mean": the keys given (all when None), in order."""
    keys = list(setting) if not keys else [k for k in keys if k in setting]
    return ", ".join(f"{SHORT.get(key, key)} {_value(setting[key])}" for key in keys) or "the preset"


def chosen_text(chosen: dict[int, dict], keys: list[str]) -> str:
    """Folds that chose the same setting together: "folds 0-4: lr 0.001, wd 0.01"; "; " between groups."""
    groups: dict[str, list[int]] = {}
    for fold in sorted(chosen):
        groups.setdefault(setting_text(chosen[fold], keys), []).append(fold)
    parts = [f"{'fold' if len(folds) == 1 else 'folds'} {_ranges(folds)}: {text}" for text, folds in groups.items()]
    return "; ".join(parts)


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 4] -> "0-2, 4"."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _mean(values) -> float:
    return float(np.mean(values)) if values else math.nan


def markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "No tuning: none of the folders is a `lolzoo fit-cv` run with a grid.\n"
    shown = shown_frame(table)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines + ["", LEGEND]) + "\n"


def shown_frame(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "zoo · task": [f"{z} · {t}: {g}" for z, t, g in zip(table["zoo"], table["task"], table["targets"])],
        "model": table["name"], "grid": table["grid_size"], "chosen per fold": table["chosen"],
        "val loss chosen": table["val_loss_chosen"].map(_loss), "val loss preset": table["val_loss_preset"].map(_loss),
        "selection s": table["selection_s"].map("{:.0f}".format)})


LEGEND = ("Tuning per (task, model): grid = settings tried per fold; chosen per fold = the setting with the lowest "
          "validation loss at the selection seed (the test fold never takes part), then refitted on every seed; "
          "val loss chosen / preset = the mean over folds of the chosen setting's and of the preset's (the grid's "
          "starting point) validation loss; selection s = seconds spent on the grid. Only the grid's varied keys "
          "are named (lr: learning rate, wd: weight decay). The ridge reference picks its penalty on validation "
          "rows inside each fit and has no grid.")


def html(table: pd.DataFrame) -> str:
    from lolzoo.report.html_table import html_page

    if table.empty:
        return html_page(pd.DataFrame({"tuning": []}), markdown(table).strip())
    return html_page(shown_frame(table), LEGEND)


def _loss(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"
