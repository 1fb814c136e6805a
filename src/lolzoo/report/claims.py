"""The paper's claims (Putterman et al. 2025), each decided from the tables the workflow wrote:
"supported", "contradicted", "cannot decide", or "not run in this world" when the world has no
task the claim is about. Every verdict comes with the numbers it rests on.

Where the numbers come from:
- a model's own mean and 95% interval: its row of the zoo's comparison.csv (`lolzoo compare`);
- a difference between two models, or a model and the trivial baseline: the paired difference on
  the same folds and seeds (lolzoo.report.intervals.paired_difference), recomputed from the
  fit-cv folders the comparison read (comparison.csv only holds differences to the best row);
- rank generalisation: ranks.csv (mean ± std over runs per rank); transfer: transfer.csv (mean ±
  std over runs per model). Their intervals are mean ± t·std/√runs, unpaired: rougher than the
  comparison's.

A task is found by its targets, whatever the config named it: CLIP score (regression on
clip_score), dataset size (multiclass on dataset_size), present classes (multilabel on class_*),
membership (multilabel on has_*), validation loss (regression on val_loss), ARC-C accuracy
(regression on arc_c_accuracy). A CLIP-score task trained on some ranks only (it has rows in the
zoo's ranks.csv) belongs to the rank claim, not to the first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lolzoo.report.compare import BASELINE, METRIC_NAMES, MODEL_NAMES, _decimal
from lolzoo.report.cv_scores import FULL, Scores, pairing_table
from lolzoo.report.intervals import IntervalError, paired_difference

SUPPORTED, CONTRADICTED, UNDECIDED, NOT_RUN = "supported", "contradicted", "cannot decide", "not run in this world"
VERDICTS = (SUPPORTED, CONTRADICTED, UNDECIDED, NOT_RUN)
INVARIANT = ("o-align", "svd", "dense", "glnet")  # the invariant or aligned models of claim (a)
PREDICTABLE_R2 = 0.5  # "predictable with high R²": the best model's R² interval lies above this
HARD_ACCURACY = 0.65  # "membership is hard": the paper's best model reaches 62.5%
CONFIDENCE = 0.95

PAPER = {
    "a": "MLP is poor on GL-invariant tasks; all invariant or aligned models beat it on CLIP score.",
    "b": "MLP + SVD predicts dataset size well but not which classes are present.",
    "c": "Data membership is hard; validation loss and ARC-C accuracy are predictable with high R².",
    "d": "GL-net and MLP + Dense generalise to unseen ranks, MLP + SVD less so.",
    "e": "LoL models trained on LoRAs of one base generalise to LoRAs of a sibling base.",
}

RULES = [
    f"(a) on each CLIP-score task, the paired R² difference of each invariant or aligned model "
    f"({', '.join(MODEL_NAMES[m] for m in INVARIANT)}) minus the MLP, over the same folds and seeds: "
    "supported when every interval lies above 0, contradicted when one lies below 0, else cannot decide.",
    "(b) MLP + SVD minus the trivial baseline in accuracy, paired: on dataset size supported when the interval "
    "lies above 0, contradicted when below 0; on present classes supported when it does not lie above 0 "
    "(no significant gain), contradicted when it does.",
    f"(c) membership: the best LoL model (by mean accuracy) minus the baseline, paired: supported when that "
    f"interval does not lie above 0 or the model's accuracy interval lies below {HARD_ACCURACY:.0%} (the paper's best "
    f"reached 62.5%), contradicted when the gain is significant and the interval lies above {HARD_ACCURACY:.0%}. "
    f"Validation loss and ARC-C accuracy: the best LoL model's R² interval (comparison.csv): supported when "
    f"its lower end exceeds {PREDICTABLE_R2}, contradicted when its upper end is below {PREDICTABLE_R2}, else "
    "cannot decide (the paper reached .99 and .98 with 2,000 LoRAs).",
    "(d) at each rank a model was not trained on (ranks.csv), GL-net's (or MLP + Dense's) score minus "
    "MLP + SVD's, with an unpaired t interval from the two rows' std and runs: supported when it lies above 0 "
    "at every unseen rank, contradicted when it lies below 0 at one, else cannot decide.",
    "(e) on each sibling zoo and task (transfer.csv), the best LoL model's score on the sibling's LoRAs, "
    "interval mean ± t·std/√runs, against the trivial level there (τ 0 for regression, where the baseline "
    "ranks nothing; the baseline's accuracy otherwise): supported when it lies above, contradicted when every "
    "model's interval lies below, else cannot decide.",
]


@dataclass(frozen=True)
class Verdict:
    claim: str  # "a" ... "e"
    statement: str  # the part of the paper's claim this row decides
    where: str  # "celeba · clip_score", or "" when not run
    verdict: str  # one of VERDICTS
    evidence: str  # the sentence naming the numbers


# ---- Finding tasks ----------------------------------------------------------------------------

def _kind(task: str, targets: tuple[str, ...]) -> str | None:
    if task == "regression" and targets == ("clip_score",):
        return "clip_score"
    if task == "regression" and targets == ("val_loss",):
        return "val_loss"
    if task == "regression" and targets == ("arc_c_accuracy",):
        return "arc_c_accuracy"
    if task == "multiclass" and targets == ("dataset_size",):
        return "dataset_size"
    if task == "multilabel" and targets and all(t.startswith("class_") for t in targets):
        return "classes"
    if task == "multilabel" and targets and all(t.startswith("has_") for t in targets):
        return "membership"
    return None


TASK_NAMES = {"clip_score": "CLIP score", "val_loss": "validation loss", "arc_c_accuracy": "ARC-C accuracy",
              "dataset_size": "dataset size", "classes": "present classes", "membership": "membership"}


def groups_of(scores: Scores, kind: str) -> list:
    """The (zoo, task) groups of the scores that are this kind of task, in zoo order."""
    found = [g for g in dict.fromkeys(scores.table["group"]) if _kind(g.task, tuple(g.targets)) == kind]
    return sorted(found, key=lambda g: g.zoo)


def _where(group) -> str:
    return f"{group.zoo} · {TASK_NAMES[_kind(group.task, tuple(group.targets))]}"


# ---- Numbers ----------------------------------------------------------------------------------

def _text(mean: float, low: float, high: float, signed: bool = False) -> str:
    def number(x):
        text = f"{x:+.3f}" if signed else _decimal(x, 3)
        return text.replace("-", "−")
    if math.isnan(low) or math.isnan(high):
        return f"{number(mean)} (one run, no interval)"
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def _runs(scores: Scores, group, metric: str) -> pd.DataFrame:
    table = scores.table
    part = table[(table["group"] == group) & (table["metric"] == metric)
                 & np.isclose(table["train_fraction"], FULL)]
    return pairing_table(part[np.isfinite(part["value"].to_numpy(dtype=np.float64))])


def difference(scores: Scores, group, metric: str, model: str, other: str, higher_is_better: bool = True):
    """The paired interval of model − other, or None when they share no run."""
    runs = _runs(scores, group, metric)
    try:
        return paired_difference(runs, model, other, higher_is_better, CONFIDENCE)
    except IntervalError:
        return None


def row(comparison: pd.DataFrame, group, metric: str, name: str):
    """A row of comparison.csv (mean, low, high, ...) or None."""
    if comparison.empty:
        return None
    hit = comparison[(comparison["zoo"] == group.zoo) & (comparison["task"] == group.task)
                     & (comparison["targets"].astype(str) == ",".join(group.targets))
                     & (comparison["metric"] == metric) & (comparison["row"] == name)]
    return None if hit.empty else hit.iloc[0]


def best_model(comparison: pd.DataFrame, group, metric: str):
    """The LoL model (not the reference, not the baseline) with the highest mean in comparison.csv."""
    rows = [row(comparison, group, metric, m) for m in MODEL_NAMES]
    rows = [r for r in rows if r is not None and np.isfinite(r["mean"])]
    return max(rows, key=lambda r: r["mean"]) if rows else None


def _sign(interval) -> int:
    """+1: the interval lies above 0; −1: below; 0: it contains 0 or there is none."""
    if interval is None or not interval.has_interval:
        return 0
    return 1 if interval.low > 0 else -1 if interval.high < 0 else 0


def _interval_text(interval) -> str:
    return "no shared runs" if interval is None else _text(interval.mean, interval.low, interval.high, signed=True)


def _combine(signs: list[int]) -> str:
    if signs and all(s > 0 for s in signs):
        return SUPPORTED
    return CONTRADICTED if any(s < 0 for s in signs) else UNDECIDED


def _not_run(claim: str, statement: str, why: str) -> Verdict:
    return Verdict(claim, statement, "", NOT_RUN, why)


# ---- The claims -------------------------------------------------------------------------------

def claim_a(scores: Scores, rank_zoos: dict[str, set]) -> list[Verdict]:
    statement = "every invariant or aligned model beats MLP on CLIP-score R²"
    groups = [g for g in groups_of(scores, "clip_score") if ",".join(g.targets) not in rank_zoos.get(g.zoo, set())]
    if not groups:
        return [_not_run("a", statement, "No CLIP-score task trained on every rank in this world.")]
    out = []
    for group in groups:
        models = sorted(set(scores.table.loc[scores.table["group"] == group, "model"]))
        if "mlp" not in models:
            out.append(Verdict("a", statement, _where(group), NOT_RUN, "The MLP was not fitted on this task."))
            continue
        compared = [m for m in INVARIANT if m in models]
        found = {m: difference(scores, group, "r2", m, "mlp") for m in compared}
        verdict = _combine([_sign(d) for d in found.values()]) if compared else NOT_RUN
        parts = "; ".join(f"{MODEL_NAMES[m]} {_interval_text(d)}" for m, d in found.items())
        out.append(Verdict("a", statement, _where(group), verdict,
                           f"R² minus the MLP's, paired over folds × seeds: {parts or 'no invariant model fitted'}."))
    return out


def claim_b(scores: Scores) -> list[Verdict]:
    out = []
    for kind, statement, wanted in (("dataset_size", "MLP + SVD predicts dataset size (accuracy above the baseline)", 1),
                                    ("classes", "MLP + SVD does not predict which classes are present", -1)):
        groups = groups_of(scores, kind)
        if not groups:
            out.append(_not_run("b", statement, f"No {TASK_NAMES[kind]} task in this world."))
        for group in groups:
            models = set(scores.table.loc[scores.table["group"] == group, "model"])
            if "svd" not in models or BASELINE not in models:
                out.append(Verdict("b", statement, _where(group), NOT_RUN,
                                   "MLP + SVD or the trivial baseline is missing on this task."))
                continue
            gain = difference(scores, group, "accuracy", "svd", BASELINE)
            sign = _sign(gain)
            if wanted > 0:
                verdict = {1: SUPPORTED, -1: CONTRADICTED, 0: UNDECIDED}[sign]
            else:  # "does not predict": no significant gain over the baseline
                verdict = CONTRADICTED if sign > 0 else SUPPORTED
            out.append(Verdict("b", statement, _where(group), verdict,
                               f"MLP + SVD's accuracy minus the baseline's, paired: {_interval_text(gain)}."))
    return out


def claim_c(scores: Scores, comparison: pd.DataFrame) -> list[Verdict]:
    out = []
    statement = f"membership is hard (no significant gain over the baseline, or accuracy below {HARD_ACCURACY:.0%})"
    groups = groups_of(scores, "membership")
    if not groups:
        out.append(_not_run("c", statement, "No membership task in this world."))
    for group in groups:
        best = best_model(comparison, group, "accuracy")
        if best is None or BASELINE not in set(scores.table.loc[scores.table["group"] == group, "model"]):
            out.append(Verdict("c", statement, _where(group), NOT_RUN, "No LoL model or baseline scored."))
            continue
        gain = difference(scores, group, "accuracy", best["row"], BASELINE)
        below = bool(np.isfinite(best["high"]) and best["high"] < HARD_ACCURACY)
        above = bool(np.isfinite(best["low"]) and best["low"] >= HARD_ACCURACY)
        if _sign(gain) <= 0 or below:
            verdict = SUPPORTED
        elif above:
            verdict = CONTRADICTED
        else:
            verdict = UNDECIDED
        out.append(Verdict("c", statement, _where(group), verdict,
                           f"The best LoL model, {MODEL_NAMES[best['row']]}, has accuracy "
                           f"{_text(best['mean'], best['low'], best['high'])}; minus the baseline, paired: "
                           f"{_interval_text(gain)}."))
    for kind in ("val_loss", "arc_c_accuracy"):
        statement = f"{TASK_NAMES[kind]} is predictable (best R² interval above {PREDICTABLE_R2})"
        groups = groups_of(scores, kind)
        if not groups:
            out.append(_not_run("c", statement, f"No {TASK_NAMES[kind]} task in this world."))
        for group in groups:
            best = best_model(comparison, group, "r2")
            if best is None:
                out.append(Verdict("c", statement, _where(group), NOT_RUN, "No LoL model scored."))
                continue
            low, high = best["low"], best["high"]
            verdict = (SUPPORTED if np.isfinite(low) and low > PREDICTABLE_R2 else
                       CONTRADICTED if np.isfinite(high) and high < PREDICTABLE_R2 else UNDECIDED)
            ceiling = row(comparison, group, "r2", "ceiling")
            ceiling_text = ""
            if ceiling is not None and np.isfinite(ceiling["mean"]):
                ceiling_text = f"; the label's noise ceiling is {_text(ceiling['mean'], ceiling['low'], ceiling['high'])}"
            out.append(Verdict("c", statement, _where(group), verdict,
                               f"The best LoL model, {MODEL_NAMES[best['row']]}, has R² "
                               f"{_text(best['mean'], low, high)}{ceiling_text}."))
    return out


def _t_interval(mean: float, std: float, runs: int) -> tuple[float, float]:
    """mean ± t·s/√runs, s the sample std recovered from the population std the tables hold."""
    if runs < 2 or not np.isfinite(std):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, runs - 1)) * std * math.sqrt(runs / (runs - 1)) / math.sqrt(runs)
    return mean - half, mean + half


def _welch(a, b) -> tuple[float, float, float]:
    """a − b of two (mean, std, runs) rows (population stds), with a Welch t interval."""
    (ma, sa, na), (mb, sb, nb) = a, b
    diff = ma - mb
    if na < 2 or nb < 2:
        return diff, math.nan, math.nan
    va, vb = sa ** 2 * na / (na - 1) / na, sb ** 2 * nb / (nb - 1) / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / ((va ** 2 / (na - 1)) + (vb ** 2 / (nb - 1))) if va and vb else max(na, nb) - 1
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof)) * se
    return diff, diff - half, diff + half


def claim_d(ranks: dict[str, pd.DataFrame]) -> list[Verdict]:
    out = []
    for model in ("glnet", "dense"):
        statement = f"{MODEL_NAMES[model]} generalises to unseen ranks at least as well as MLP + SVD"
        found = False
        for zoo, table in sorted(ranks.items()):
            for targets, rows in table.groupby("targets", sort=True):
                mine, svd = rows[rows["model"] == model], rows[rows["model"] == "svd"]
                if mine.empty or svd.empty:
                    continue
                found = True
                trained = {int(r) for r in str(rows["trained_on"].iloc[0]).split(",") if r.strip().isdigit()}
                unseen = sorted(set(mine["rank"]) & set(svd["rank"]) - trained)
                signs, parts = [], []
                for rank in unseen:
                    a = mine[mine["rank"] == rank].iloc[0]
                    b = svd[svd["rank"] == rank].iloc[0]
                    diff, low, high = _welch((a["mean"], a["std"], int(a["seeds"])), (b["mean"], b["std"], int(b["seeds"])))
                    signs.append(1 if low > 0 else -1 if high < 0 else 0)
                    parts.append(f"rank {rank}: {_text(diff, low, high, signed=True)}")
                metric = str(rows["metric"].iloc[0])
                at_trained = "; ".join(
                    f"{MODEL_NAMES.get(m, m)} {_decimal(float(r['mean']), 3)}" for m in (model, "svd")
                    for _, r in rows[(rows["model"] == m) & rows["rank"].isin(trained)].iterrows())
                verdict = _combine(signs) if unseen else NOT_RUN
                out.append(Verdict("d", statement, f"{zoo} · {targets}", verdict,
                                   f"{METRIC_NAMES.get(metric, metric)} minus MLP + SVD's at each unseen rank (unpaired): "
                                   f"{'; '.join(parts) or 'no unseen rank'}. At the trained rank(s) "
                                   f"{','.join(map(str, sorted(trained)))}: {at_trained}."))
        if not found:
            out.append(_not_run("d", statement, f"No rank-generalisation table with {MODEL_NAMES[model]} "
                                                "and MLP + SVD in this world."))
    return out


def transfer_cells(table: pd.DataFrame) -> pd.DataFrame:
    """transfer.csv (one row per model; columns `<group> | <metric> | mean/std/seeds`) as a long table:
    model, column group, metric, mean, std, runs."""
    rows = []
    for column in table.columns:
        parts = [p.strip() for p in str(column).split(" | ")]
        if len(parts) != 3 or parts[2] != "mean":
            continue
        group, metric = parts[0], parts[1]
        for _, r in table.iterrows():
            rows.append({"model": r["model"], "group": group, "metric": metric, "mean": float(r[column]),
                         "std": float(r[f"{group} | {metric} | std"]), "runs": r[f"{group} | {metric} | seeds"]})
    return pd.DataFrame(rows, columns=["model", "group", "metric", "mean", "std", "runs"])


def _count(value) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if np.isfinite(number) else 0


def claim_e(transfer: dict[str, pd.DataFrame]) -> list[Verdict]:
    statement = "LoL models fitted on one base score above the trivial level on a sibling base's LoRAs"
    out = []
    for zoo, table in sorted(transfer.items()):
        cells = transfer_cells(table)
        for group in dict.fromkeys(cells["group"]):
            if "→" not in group:
                continue
            kind = group.split(" · ", 1)[1].split(":", 1)[0].strip() if " · " in group else ""
            metric = "kendall_tau" if kind == "regression" else "accuracy"
            here = cells[(cells["group"] == group) & (cells["metric"] == metric)]
            models = here[here["model"].isin(list(MODEL_NAMES)) & np.isfinite(here["mean"])]
            if models.empty:
                continue
            if metric == "kendall_tau":
                level, level_text = 0.0, "τ 0 (no ranking)"
            else:
                base = here[here["model"] == BASELINE]
                if base.empty or not np.isfinite(base["mean"].iloc[0]):
                    continue
                level = float(base["mean"].iloc[0])
                level_text = f"the baseline's accuracy {_decimal(level, 3)}"
            bounds = {r["model"]: (r["mean"], *_t_interval(r["mean"], r["std"], _count(r["runs"])))
                      for _, r in models.iterrows()}
            best = max(bounds, key=lambda m: bounds[m][0])
            mean, low, high = bounds[best]
            if np.isfinite(low) and low > level:
                verdict = SUPPORTED
            elif all(np.isfinite(h) and h < level for _, _, h in bounds.values()):
                verdict = CONTRADICTED
            else:
                verdict = UNDECIDED
            in_base = group.split(" → ", 1)[0] + " · " + group.split(" · ", 1)[1]
            own = cells[(cells["group"] == in_base) & (cells["metric"] == metric) & (cells["model"] == best)]
            own_text = f" (in-base: {_decimal(float(own['mean'].iloc[0]), 3)})" if not own.empty else ""
            name = "τ" if metric == "kendall_tau" else "accuracy"
            out.append(Verdict("e", statement, group, verdict,
                               f"The best model on the sibling, {MODEL_NAMES[best]}, has {name} "
                               f"{_text(mean, low, high)}{own_text}, against {level_text}."))
    if not out:
        out.append(_not_run("e", statement, "No cross-base transfer table in this world."))
    return out


def all_claims(scores: Scores, comparison: pd.DataFrame, ranks: dict[str, pd.DataFrame],
               transfer: dict[str, pd.DataFrame]) -> list[Verdict]:
    rank_targets = {zoo: set(table["targets"].astype(str)) for zoo, table in ranks.items()}
    return [*claim_a(scores, rank_targets), *claim_b(scores), *claim_c(scores, comparison), *claim_d(ranks),
            *claim_e(transfer)]


def markdown(verdicts: list[Verdict]) -> str:
    lines = ["| claim | tested | where | verdict | numbers |", "|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| ({v.claim}) {PAPER[v.claim]} | {v.statement} | {v.where or '—'} | **{v.verdict}** | "
                     f"{v.evidence} |")
    return "\n".join(lines) + "\n"
