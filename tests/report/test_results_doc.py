"""`lolzoo results-doc` (issue 18, item 6): the paper's claims decided on constructed fit-cv
folders with known scores (a clearly better model: supported; clearly worse: contradicted; an
overlap: cannot decide; a task the world lacks: not run), and the document assembled from a zoo's
report folder: the right rows, copied from the files."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.report import claims
from lolzoo.report.claims import CONTRADICTED, NOT_RUN, SUPPORTED, UNDECIDED, all_claims
from lolzoo.report.cv_scores import read_scores
from lolzoo.report.intervals import PairingError, paired_difference
from lolzoo.report.learning_curves import curve_table
from lolzoo.report.results_doc import Machine, document, read_tables
from lolzoo.report.speedup import COLUMNS as SPEEDUP_COLUMNS
from tests.report.cv_helpers import write_cv

MODELS = ("mlp", "o-align", "svd", "dense", "glnet")
CLASSES, SOURCES = ("class_0", "class_1"), ("has_a", "has_b")


def wiggle(fold, seed):
    """±0.01 by fold and seed: runs that vary, so intervals have a width."""
    return 0.01 if (fold + seed) % 2 else -0.01


def regression(value):
    return {"mse": 1 - value, "r2": value, "kendall_tau": value / 2}


def r2_of(value_of):
    return lambda f, s, x: regression(value_of(f, s) - 0.2 * (1 - x))


def accuracy_of(value_of, task="multilabel"):
    if task == "multiclass":
        return lambda f, s, x: {"accuracy": value_of(f, s)}
    return lambda f, s, x: {"loss": 0.5, "accuracy": value_of(f, s), "auroc": 0.6}


def mlp_r2(f, s):
    return 0.2 + 0.02 * f + wiggle(f, s)


def write_clip_zoo(root: Path, zoo: str, invariant) -> list[Path]:
    """A zoo whose CLIP-score task has the MLP at mlp_r2 and every other model at invariant(f, s)."""
    dirs = [write_cv(root / zoo / "clip_score" / "mlp", "mlp", r2_of(mlp_r2), zoo=zoo, fractions=(0.5, 1.0))]
    dirs += [write_cv(root / zoo / "clip_score" / m, m, r2_of(invariant), zoo=zoo, fractions=(0.5, 1.0))
             for m in MODELS[1:]]
    dirs.append(write_cv(root / zoo / "clip_score" / "reference", "reference", r2_of(lambda f, s: 0.3), zoo=zoo))
    return dirs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Fit-cv folders of five zoos and the report folders `lolzoo compare` writes for them.

    better: every invariant model 0.3 above the MLP on CLIP score (and imagenette-like tasks: SVD
    predicts dataset size, baseline 0.5, and is level with the baseline, 0.75, on classes);
    worse: GL-net 0.3 below the MLP; tied: GL-net level with it. arc: membership level with the
    baseline (0.75), validation loss R² 0.9 ± 0.04, ARC-C accuracy R² 0.1 ± 0.04."""
    root = tmp_path_factory.mktemp("world")
    fits = {
        "better": write_clip_zoo(root, "better", lambda f, s: mlp_r2(f, s) + 0.3 + wiggle(f, s + 1)),
        "worse": write_clip_zoo(root, "worse", lambda f, s: mlp_r2(f, s) - 0.3 + wiggle(f, s + 1)),
        "tied": write_clip_zoo(root, "tied", lambda f, s: mlp_r2(f, s) + wiggle(f, s + 1)),
        "arc": [],
    }
    for model in ("mlp", "svd"):
        fits["better"].append(write_cv(root / "better" / "classes" / model, model,
                                       accuracy_of(lambda f, s: 0.75 + wiggle(f, s)),
                                       task="multilabel", targets=CLASSES, zoo="better"))
        fits["better"].append(write_cv(root / "better" / "dataset_size" / model, model,
                                       accuracy_of(lambda f, s: 0.8 + wiggle(f, s), "multiclass"),
                                       task="multiclass", targets=("dataset_size",), zoo="better"))
    for model in ("svd", "glnet"):
        lift = 0.0 if model == "svd" else 0.01
        fits["arc"].append(write_cv(root / "arc" / "membership" / model, model,
                                    accuracy_of(lambda f, s, lift=lift: 0.75 + lift + wiggle(f, s)),
                                    task="multilabel", targets=SOURCES, zoo="arc"))
        fits["arc"].append(write_cv(root / "arc" / "val_loss" / model, model,
                                    r2_of(lambda f, s, lift=lift: 0.86 + lift + 0.02 * f + wiggle(f, s)),
                                    targets=("val_loss",), zoo="arc"))
        fits["arc"].append(write_cv(root / "arc" / "arc_c_accuracy" / model, model,
                                    r2_of(lambda f, s, lift=lift: 0.06 + lift + 0.02 * f + wiggle(f, s)),
                                    targets=("arc_c_accuracy",), zoo="arc"))
    reports = {}
    for zoo, dirs in fits.items():
        folder = root / "report" / zoo
        folder.mkdir(parents=True)
        assert main(["compare", *map(str, dirs), "--out", str(folder / "comparison"),
                     "--tuning", str(folder / "tuning")]) == 0
        reports[zoo] = folder
    return {"root": root, "fits": fits, "reports": reports,
            "dirs": [d for dirs in fits.values() for d in dirs]}


@pytest.fixture(scope="module")
def verdicts(world):
    comparison, ranks, transfer = read_tables(world["reports"])
    found = all_claims(read_scores(world["dirs"]), comparison, ranks, transfer)
    return {(v.claim, v.where, v.statement.split(" ")[0]): v for v in found}, found


def verdict(verdicts, claim, where):
    hits = [v for (c, w, _), v in verdicts[0].items() if c == claim and w == where]
    assert len(hits) == 1, (claim, where, hits)
    return hits[0]


def test_paired_difference_of_a_chosen_pair_is_signed_so_that_positive_is_better():
    rows = [{"model": m, "fold": f, "seed": s, "value": v + 0.01 * f, "n_train": 80, "n_test": 20}
            for f in range(5) for s in (0, 1) for m, v in (("a", 0.5), ("b", 0.3))]
    table = pd.DataFrame(rows)
    up = paired_difference(table, "a", "b")
    assert up.mean == pytest.approx(0.2) and up.runs == 10
    assert paired_difference(table, "a", "b", metric_higher_is_better=False).mean == pytest.approx(-0.2)
    with pytest.raises(PairingError):
        paired_difference(table, "a", "missing")


def test_claim_a_better_supported_worse_contradicted_tied_undecided(verdicts):
    better = verdict(verdicts, "a", "better · CLIP score")
    assert better.verdict == SUPPORTED
    # the paired differences are about +0.3 for every invariant model, named in the sentence
    for name in ("MLP + O-Align", "MLP + SVD", "MLP + Dense", "GL-net"):
        assert re.search(rf"{re.escape(name)} \+0\.(29|30)\d \[\+0\.\d+, \+0\.\d+\]", better.evidence)
    assert verdict(verdicts, "a", "worse · CLIP score").verdict == CONTRADICTED
    tied = verdict(verdicts, "a", "tied · CLIP score")
    assert tied.verdict == UNDECIDED and re.search(r"GL-net [+−]0\.0\d\d \[−0\.\d+, \+0\.\d+\]", tied.evidence)


def test_claim_b_dataset_size_above_the_baseline_and_classes_level_with_it(verdicts):
    size = verdict(verdicts, "b", "better · dataset size")
    assert size.verdict == SUPPORTED and re.search(r"paired: \+0\.(29|30)\d \[\+", size.evidence)  # 0.8 against the majority's 0.5
    classes = verdict(verdicts, "b", "better · present classes")
    assert classes.verdict == SUPPORTED and re.search(r"paired: [+−]0\.0\d\d \[−", classes.evidence)  # level with the rate baseline 0.75


def test_claim_c_membership_hard_val_loss_predictable_arc_c_not(verdicts):
    membership = verdict(verdicts, "c", "arc · membership")
    assert membership.verdict == SUPPORTED and "GL-net" in membership.evidence
    val_loss = verdict(verdicts, "c", "arc · validation loss")
    assert val_loss.verdict == SUPPORTED and "GL-net, has R² 0.9" in val_loss.evidence
    assert verdict(verdicts, "c", "arc · ARC-C accuracy").verdict == CONTRADICTED


def test_a_world_without_the_tasks_says_not_run(world):
    only_clip = world["fits"]["better"][:6]  # the CLIP-score task alone
    found = all_claims(read_scores(only_clip), *read_tables({"better": world["reports"]["better"]}))
    by_claim = {}
    for v in found:
        by_claim.setdefault(v.claim, []).append(v.verdict)
    assert by_claim["a"] == [SUPPORTED]
    # b (dataset size, classes), c (membership, val loss, ARC-C), d (GL-net, Dense), e: all not run
    assert by_claim["b"] == [NOT_RUN] * 2 and by_claim["c"] == [NOT_RUN] * 3
    assert by_claim["d"] == [NOT_RUN] * 2 and by_claim["e"] == [NOT_RUN]


def ranks_frame(glnet_by_rank: dict, svd_by_rank: dict, std: float = 0.02) -> pd.DataFrame:
    rows = []
    for model, values in (("glnet", glnet_by_rank), ("svd", svd_by_rank)):
        for rank, mean in values.items():
            rows.append({"task": "regression", "targets": "clip_score", "model": model,
                         "name": {"glnet": "GL-net", "svd": "MLP + SVD"}[model], "rank": rank, "trained_on": "4",
                         "metric": "r2", "mean": mean, "std": std, "seeds": 15, "loras": 20})
    return pd.DataFrame(rows)


def test_claim_d_from_the_rank_table():
    better = claims.claim_d({"ranks": ranks_frame({2: 0.5, 4: 0.6, 8: 0.5}, {2: 0.2, 4: 0.6, 8: 0.1})})
    assert better[0].verdict == SUPPORTED and "rank 2: +0.300 [" in better[0].evidence
    assert "rank 4:" not in better[0].evidence.split("At the trained")[0]  # the trained rank is not a test
    worse = claims.claim_d({"ranks": ranks_frame({2: 0.1, 8: 0.5}, {2: 0.4, 8: 0.5})})
    assert worse[0].verdict == CONTRADICTED
    level = claims.claim_d({"ranks": ranks_frame({2: 0.41, 8: 0.5}, {2: 0.4, 8: 0.49})})
    assert level[0].verdict == UNDECIDED
    assert level[1].verdict == NOT_RUN  # no MLP + Dense in the table


def transfer_frame(tau_glnet: float, tau_svd: float, std: float = 0.02) -> pd.DataFrame:
    in_base, sibling = "z · regression: clip_score", "z → z_sibling · regression: clip_score"
    rows = []
    for model, tau in (("svd", tau_svd), ("glnet", tau_glnet), ("baseline", float("nan"))):
        row = {"model": model, "name": model}
        for group, value in ((in_base, 0.5), (sibling, tau)):
            for metric in ("mse", "r2", "kendall_tau"):
                row[f"{group} | {metric} | mean"] = value if metric == "kendall_tau" else 0.1
                row[f"{group} | {metric} | std"] = std
                row[f"{group} | {metric} | seeds"] = 3
        rows.append(row)
    return pd.DataFrame(rows)


def test_claim_e_from_the_transfer_table():
    ranked = claims.claim_e({"z": transfer_frame(0.35, 0.05)})
    assert [v.verdict for v in ranked] == [SUPPORTED]
    assert "GL-net, has τ 0.350 [" in ranked[0].evidence and "(in-base: 0.500)" in ranked[0].evidence
    assert claims.claim_e({"z": transfer_frame(-0.3, -0.2)})[0].verdict == CONTRADICTED
    assert claims.claim_e({"z": transfer_frame(0.01, -0.2)})[0].verdict == UNDECIDED
    assert claims.claim_e({})[0].verdict == NOT_RUN


def write_extras(world, root: Path) -> tuple[Path, Path]:
    """A copy of the `better` zoo's report folder with the other files: reliability, learning
    curves, speed-up and transfer, as their verbs write them (the CSV columns of their modules);
    and a rank zoo's folder with ranks.csv."""
    folder, ranks = root / "better", root / "ranks"
    shutil.copytree(world["reports"]["better"], folder)
    ranks.mkdir()
    (folder / "reliability.md").write_text("| label | reliability |\n|---|---|\n| clip_score | 0.812 [0.700, 0.900] |\n")
    curve_table(read_scores(world["fits"]["better"][:6])).to_csv(folder / "learning_curves.csv", index=False)
    pd.DataFrame([["glnet", "GL-net", 45, 2.0e-4, 1.5, 7500.0], ["mlp", "MLP", 45, 1.0e-4, 1.5, 15000.0]],
                 columns=SPEEDUP_COLUMNS).to_csv(folder / "speedup.csv", index=False)
    ranks_frame({2: 0.5, 4: 0.6}, {2: 0.2, 4: 0.6}).to_csv(ranks / "ranks.csv", index=False)
    transfer_frame(0.35, 0.05).to_csv(folder / "transfer.csv", index=False)
    (folder / "transfer.md").write_text("| model | z → z_sibling · τ |\n|---|---|\n| GL-net | 0.350 ± 0.020 |\n")
    return folder, ranks


def test_the_document_holds_every_table_of_the_report_folder(world, tmp_path):
    folder, ranks = write_extras(world, tmp_path)
    out = tmp_path / "results.md"
    argv = ["results-doc", *map(str, world["fits"]["better"]), "--world", "default", "--command",
            "snakemake --cores all", "--zoo", f"better={folder}", f"ranks={ranks}", "--out", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    assert text.startswith("# Results of the `default` world\n")
    assert "**Command.** `snakemake --cores all`" in text and "none is typed by hand" in text
    assert f"on {date.today().isoformat()}" in text and "torch " in text
    # the comparison and tuning tables, verbatim
    assert (folder / "comparison.md").read_text().strip() in text
    assert (folder / "tuning.md").read_text().strip() in text
    assert "| clip_score | 0.812 [0.700, 0.900] |" in text and "| GL-net | 0.350 ± 0.020 |" in text
    # learning curves: a row per model at each share, with the figure's path
    curves = pd.read_csv(folder / "learning_curves.csv")
    glnet = curves[(curves["model"] == "glnet") & (curves["train_fraction"] == 0.5)].iloc[0]
    assert f"| GL-net | {glnet['mean']:.3f} [{glnet['low']:.3f}, {glnet['high']:.3f}] |" in text
    assert f"`{folder}/learning_curves.png`" in text
    assert "| GL-net | 45 | 0.0002 | 1.5 | 7,500× |" in text
    assert f"From `{ranks}/ranks.csv` (figure: `{ranks}/ranks.png`)" in text
    assert "| model | rank 2 | rank 4 (trained) |" in text and "| MLP + SVD | 0.200 ± 0.020 | 0.600 ± 0.020 |" in text
    # the claims: (a) supported from the fits, (d) from ranks.csv, (e) from transfer.csv
    claim_lines = [line for line in text.splitlines() if line.startswith("| (")]
    assert any("| better · CLIP score | **supported** |" in line for line in claim_lines)
    assert any(line.startswith("| (d)") and "**supported**" in line for line in claim_lines)
    assert any(line.startswith("| (e)") and "**supported**" in line for line in claim_lines)
    assert any(line.startswith("| (c)") and f"**{NOT_RUN}**" in line for line in claim_lines)


def test_document_order_and_a_zoo_without_tables(world, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    machine = Machine("Linux-x86_64", 2, "3.11.0", "2.5.0")
    text = document("test", "snakemake --cores all --configfile config/test.yaml",
                    {"arc": world["reports"]["arc"], "empty": empty}, [], date(2026, 1, 2), machine)
    assert "Written** on 2026-01-02" in text and "Linux-x86_64 with 2 CPUs" in text and "torch 2.5.0" in text
    assert text.index("## The paper's claims") < text.index("## arc") < text.index("## empty")
    assert "No report table was found for this zoo." in text


def test_a_bad_zoo_argument_is_one_line(tmp_path, capsys):
    assert main(["results-doc", "--world", "w", "--zoo", "nofolder", "--out", str(tmp_path / "r.md")]) == 2
    assert "ZOO=FOLDER" in capsys.readouterr().err


def test_the_shipped_results_doc_refreshes_at_its_one_marker():
    """docs/results.md's own refresh command (`sed '/^<!-- generated below/q'`) keeps everything
    up to the first line that starts with the marker: there must be exactly one such line, the
    command itself must survive intact above it, and the generated document must follow it."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "results.md"
    lines = doc.read_text().splitlines()
    markers = [i for i, line in enumerate(lines) if line.startswith("<!-- generated below")]
    assert markers == [markers[0]], f"marker lines at {markers}"
    kept = "\n".join(lines[: markers[0]])
    assert "sed '/^<!-- generated below/q' docs/results.md; cat results/report/results.md; }" in kept
    assert "> docs/results.new && mv docs/results.new docs/results.md" in kept
    assert lines[markers[0]] == "<!-- generated below: results/report/results.md -->"
    assert lines[markers[0] + 1].startswith("# Results of the `default` world")
