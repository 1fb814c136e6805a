"""`lolzoo fit-cv --zoo ZOO.parquet --task T --target COL --model M --folds K --seeds 0,1,2 --out DIR`:
a model tuned and cross-validated on one task, in one process (lolzoo.lol.cv).

DIR/cv.json holds the settings, every candidate's validation loss per fold (`selection`), the
setting chosen per fold (`chosen`) and every run's metrics (`runs`: fold, seed, training share,
sizes); DIR/fold<k>/seed<s>/ is the `lolzoo fit` output of each full-share run (not for
`--model reference`, which has no network to save). The folder is written at once, when every
fit has finished: a killed job leaves nothing half-written. The training flags (preset, --lr,
--hparam ...) are the grid's starting point; `--grid` and `--trials` say what else is tried.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    from lolzoo.lol.cv import REFERENCE
    from lolzoo.lol.fit_cli import add_training_arguments
    from lolzoo.lol.registry import MODEL_KINDS

    parser.add_argument("--model", required=True, choices=(*MODEL_KINDS, REFERENCE),
                        help=f"a LoL model, or {REFERENCE}: ridge / logistic regression on GL-invariant "
                             "scale features (lolzoo.lol.reference)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be new or empty)")
    add_training_arguments(parser)
    parser.add_argument("--folds", type=int, default=5, metavar="K",
                        help="cross-validation folds of the id hash, each the test set once (default 5; "
                             "1: the fixed --split)")
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated (default 0); the lowest "
                                                     "selects the setting")
    parser.add_argument("--trials", type=int, default=1,
                        help="settings tried per fold: the starting point, then seeded draws from --grid (default 1)")
    parser.add_argument("--grid", default="{}",
                        help='JSON {"lr": [3e-4, 1e-3], "layers": [1, 2], ...}: training settings and model '
                             "hyperparameters to draw from")
    parser.add_argument("--train-fractions", default="1",
                        help="shares of the training LoRAs for the learning curve, comma-separated; 1 (the "
                             "full runs) is always included (default 1)")


def run(args) -> int:
    from lolzoo.io import atomic_dir
    from lolzoo.lol.artifacts import jsonable
    from lolzoo.lol.cv import CVPlan, run_cv
    from lolzoo.lol.fit_cli import check_folds, load_training_zoo, training_start, training_targets
    from lolzoo.lol.results import CV_FILE, write_fit_outputs

    check_folds(args.folds)
    if args.out.exists() and not (args.out.is_dir() and not any(args.out.iterdir())) and not args.overwrite:
        raise UserError(f"--out {args.out}: exists and is not an empty folder (pass --overwrite to replace it)")
    plan = CVPlan(folds=args.folds, seeds=_numbers(args.seeds, int, "--seeds"), trials=args.trials,
                  grid=_grid(args.grid), train_fractions=(*_numbers(args.train_fractions, float, "--train-fractions"),
                                                          1.0))
    targets, start = training_targets(args), training_start(args)
    began = time.perf_counter()
    zoo = load_training_zoo(args, targets)
    load_s = time.perf_counter() - began
    command = {"zoo": str(args.zoo), "zoo_name": zoo.info.zoo, "base_model": zoo.info.base_model,
               "preset": args.preset, "low_rank_only": args.low_rank_only}

    with atomic_dir(args.out, overwrite=args.overwrite) as staging:
        def write_fit(fold: int, seed: int, result) -> str:
            folder = f"fold{fold}/seed{seed}"
            write_fit_outputs(staging / folder, result, zoo, command)
            return folder

        found = run_cv(args.model, zoo, args.task, targets, start, plan, write_fit, log=print)
        document = {
            "settings": {**command, "task": args.task, "targets": targets, "model": args.model,
                         "folds": plan.folds, "seeds": list(plan.seeds), "trials": plan.trials, "grid": plan.grid,
                         "train_fractions": list(plan.train_fractions), "selection_seed": plan.selection_seed,
                         "start": start},
            **found,
            "timings": {"load_s": load_s, "total_s": time.perf_counter() - began},
        }
        (staging / CV_FILE).write_text(json.dumps(jsonable(document), indent=2, sort_keys=True) + "\n")
    full = [run for run in found["runs"] if run["train_fraction"] == 1.0]
    print(f"{args.model} on {zoo.info.zoo} ({args.task}): {len(full)} full run(s) over {plan.folds} fold(s), "
          f"{len(found['runs']) - len(full)} learning-curve run(s), {len(found['selection'])} selection fit(s) "
          f"in {document['timings']['total_s']:.1f} s -> {args.out}")
    return 0


def _numbers(text: str, kind, flag: str) -> list:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise UserError(f"{flag} takes numbers separated by commas, got {text!r}") from err
    if not values:
        raise UserError(f"{flag} names at least one number")
    return values


def _grid(text: str) -> dict:
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"--grid is a JSON object of lists, got {text!r} ({err.msg})") from err
    if not isinstance(grid, dict):
        raise UserError(f"--grid is a JSON object of lists, got {text!r}")
    return grid
