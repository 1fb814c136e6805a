"""What the LoL fits of one (zoo, task) cost as workflow jobs: one `lolzoo fit` process per
(model, seed) on the fixed split, as the workflow ran them before issue 18, against one
`lolzoo fit-cv` process per model (tuning grid, folds, seeds and learning curve), as it runs them now.

Both read their flags from the config through lolzoo.recipes.plan, as the workflow does, and run
as subprocesses (each pays its imports and zoo read, as a job does). Columns:

  before s     wall seconds of the model's `lolzoo fit` processes, one per seed, run one after another
  fits before  how many fits that is (the seeds)
  after s      wall seconds of the model's single `lolzoo fit-cv` process
  fits after   the fits it ran (selection candidates, refits on the other seeds, learning-curve shares)
  s/fit        after s / fits after: what one fit costs once the process is started

Time it on an idle machine: the two cores are the measurement.

    python benchmarks/fit_jobs.py --zoo celeba --task clip_score [--config config/config.yaml]
        [--models mlp glnet] [--packed results/zoos/celeba.parquet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
CV_ONLY = {"--folds", "--seeds", "--train-fractions", "--trials", "--grid"}  # fit-cv's flags, not fit's


def old_flags(flags: list[str]) -> list[str]:
    """The `lolzoo fit` flags of the fixed split: fit-cv's without its cross-validation flags."""
    kept, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag in CV_ONLY:
            skip = True
        else:
            kept.append(flag)
    return kept


def timed(command: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:6])} ... failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--zoo", required=True, help="a zoo with LoL tasks in the config")
    parser.add_argument("--task", required=True)
    parser.add_argument("--packed", type=Path, help="the packed zoo (default results/zoos/<zoo>.parquet)")
    parser.add_argument("--models", nargs="+", help="default: the config's lol.models and the reference")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "src"))
    from lolzoo.config.load import load_config
    from lolzoo.recipes import plan

    config = load_config(args.config, REPO)  # validated, defaults filled in, as the workflow sees it
    packed = args.packed or REPO / "results" / "zoos" / f"{args.zoo}.parquet"
    models = args.models or [*config["lol"]["models"], plan.REFERENCE]
    python = [sys.executable, "-m", "lolzoo"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for model in models:
            flags = plan.fit_flags(config, args.zoo, args.task, model)
            before = fits_before = None
            if model != plan.REFERENCE:  # the old workflow had no reference row
                fits_before = len(config["lol"]["seeds"])
                before = sum(timed([*python, "fit", "--zoo", str(packed), *old_flags(flags), "--seed", str(seed),
                                    "--out", f"{scratch}/{model}-fit-{seed}"]) for seed in config["lol"]["seeds"])
            out = Path(scratch) / f"{model}-cv"
            after = timed([*python, "fit-cv", "--zoo", str(packed), *flags, "--out", str(out)])
            document = json.loads((out / "cv.json").read_text())
            seeds = set(document["settings"]["seeds"])
            refits = sum(1 for run in document["runs"] if not (run["train_fraction"] == 1.0
                                                                 and run["seed"] == min(seeds)))
            fits_after = len(document["selection"]) + refits if document["selection"] else len(document["runs"])
            rows.append((model, before, fits_before, after, fits_after))
            print(f"  {model}: before {before if before is None else round(before, 1)} s, after {after:.1f} s",
                  file=sys.stderr)

    print(f"\n{args.zoo} / {args.task}: {packed}\n")
    print("| model | before s | fits before | after s | fits after | s/fit |")
    print("|---|---|---|---|---|---|")
    for model, before, fits_before, after, fits_after in rows:
        print(f"| {model} | {'—' if before is None else f'{before:.1f}'} | {fits_before or '—'} | {after:.1f} | "
              f"{fits_after} | {after / fits_after:.2f} |")
    total_before = sum(r[1] for r in rows if r[1] is not None)
    total_after = sum(r[3] for r in rows)
    print(f"| total | {total_before:.1f} | {sum(r[2] or 0 for r in rows)} | {total_after:.1f} | "
          f"{sum(r[4] for r in rows)} | |")


if __name__ == "__main__":
    main()
