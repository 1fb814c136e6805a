"""`lolzoo fit --zoo ZOO.parquet --task T --target COL[,COL...] --model M --out DIR`: train one LoL model.

Writes DIR/metrics.json, DIR/predictions.parquet and the model (model.safetensors +
model.json), all at once (lolzoo.lol.results).  `--folds K --fold k` tests on fold k of K
(lolzoo.lol.split.fold_split); metrics.json records both in its settings and the split sizes in
`sizes`, and predictions.parquet's `split` column holds the fold's roles.  Training settings come from the defaults
(lolzoo.lol.train.TrainSettings), then `--preset`, then the explicit flags.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lolzoo.errors import UserError

TRAIN_FLAGS = ("epochs", "lr", "weight_decay", "batch_size")


def add_arguments(parser) -> None:
    from lolzoo.lol.registry import MODEL_KINDS

    parser.add_argument("--model", required=True, choices=MODEL_KINDS)
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be new or empty)")
    parser.add_argument("--seed", type=int, default=0, help="fixes initial weights and batch order (default 0)")
    add_training_arguments(parser)
    parser.add_argument("--folds", type=int, default=1, metavar="K",
                        help="cross-validation: cut the id hash into K folds and test on fold --fold "
                             "(default 1: the fixed --split, as without the flag); a LoRA keeps its fold "
                             "when the zoo grows")
    parser.add_argument("--fold", type=int, default=0, metavar="k",
                        help="the test fold, 0 to K-1 (default 0); one fit per fold covers every LoRA once")


def add_training_arguments(parser) -> None:
    """What `lolzoo fit` and `lolzoo fit-cv` share: the zoo, the task and the training settings."""
    from lolzoo.lol.tasks import TASK_KINDS
    from lolzoo.lol.train import PAPER_PRESETS, TrainSettings

    defaults = TrainSettings()
    parser.add_argument("--zoo", required=True, type=Path, help="the packed zoo (.parquet)")
    parser.add_argument("--task", required=True, choices=TASK_KINDS)
    parser.add_argument("--target", required=True,
                        help="label column(s), comma-separated; `*` matches several (class_*)")
    parser.add_argument("--preset", choices=sorted(PAPER_PRESETS),
                        help="training settings of one of the paper's experiments; flags below override it")
    parser.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    parser.add_argument("--lr", type=float, help=f"AdamW learning rate (default {defaults.lr:g})")
    parser.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (default {defaults.weight_decay:g})")
    parser.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    parser.add_argument("--split", help="train,val,test fractions of the id hash (default 0.8,0.1,0.1); with "
                                        "--folds K > 1 only its val share is used: that share of the LoRAs "
                                        "outside the test fold validates, the rest trains")
    parser.add_argument("--train-ranks", help="rank generalisation: train and validate on LoRAs of these ranks "
                                              "only (comma-separated, e.g. 4); the others are all tested")
    parser.add_argument("--hparam", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="model hyperparameter, VALUE as JSON when it parses (hidden=[32,32], "
                             "dropout=0.1) else a string (gate=step); repeatable")
    parser.add_argument("--low-rank-only", action="store_true",
                        help="a DoRA zoo: ignore its magnitude vectors and fit on U, V alone (an ablation)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.lol.results import write_fit_outputs
    from lolzoo.lol.train import fit

    check_folds(args.folds)
    if not 0 <= args.fold < args.folds:
        raise UserError(f"--fold {args.fold}: not a fold of --folds {args.folds} (0 to {args.folds - 1})")
    targets, hparams = training_targets(args), training_start(args)
    hparams.update(folds=args.folds, fold=args.fold)
    start = time.perf_counter()
    zoo = load_training_zoo(args, targets)
    load_s = time.perf_counter() - start
    result = fit(args.model, zoo, args.task, targets, args.seed, hparams)
    command = {"zoo": str(args.zoo), "zoo_name": zoo.info.zoo, "base_model": zoo.info.base_model,
               "preset": args.preset, "low_rank_only": args.low_rank_only}
    write_fit_outputs(args.out, result, zoo, command, {"load_s": load_s, "total_s": time.perf_counter() - start},
                      overwrite=args.overwrite)
    fold = f", fold {args.fold} of {args.folds}" if args.folds > 1 else ""
    print(f"{args.model} on {zoo.info.zoo} ({args.task}: {', '.join(targets)}){fold}, best epoch {result.best_epoch}: "
          f"test {headline(result.metrics['test'])} -> {args.out}")
    return 0


def check_folds(folds: int) -> None:
    if folds < 1:
        raise UserError(f"--folds {folds}: the number of folds is at least 1")


def training_targets(args) -> list[str]:
    """--target's names, `*` patterns matched against the zoo's label columns."""
    from lolzoo.zoo.load import match_columns

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    if not targets:
        raise UserError("--target names at least one label column")
    return match_columns(args.zoo, targets)


def training_start(args) -> dict:
    """The training settings and model hyperparameters the flags ask for: the preset, then the
    explicit flags over it (for `lolzoo fit-cv`, the tuning grid's starting point)."""
    from lolzoo.lol.split import parse_fractions
    from lolzoo.lol.train import PAPER_PRESETS

    hparams = dict(PAPER_PRESETS.get(args.preset, {}))
    hparams.update({flag: getattr(args, flag) for flag in TRAIN_FLAGS if getattr(args, flag) is not None})
    if args.split:
        hparams["split"] = parse_fractions(args.split)
    if args.train_ranks:
        try:
            hparams["train_ranks"] = [int(rank) for rank in args.train_ranks.split(",")]
        except ValueError as err:
            raise UserError(f"--train-ranks takes ranks separated by commas, got {args.train_ranks!r}") from err
    hparams.update(parse_hparams(args.hparam))
    return hparams


def load_training_zoo(args, targets: list[str]):
    """The zoo with the target columns; --low-rank-only drops a DoRA zoo's magnitudes."""
    from lolzoo.zoo.load import load_zoo

    zoo = load_zoo(args.zoo, columns=targets)
    if args.low_rank_only:
        if zoo.magnitudes is None:
            raise UserError(f"--low-rank-only: {args.zoo} holds plain LoRAs, with no DoRA magnitudes to ignore")
        zoo.magnitudes = None
    return zoo


def parse_hparams(items: list[str]) -> dict:
    from lolzoo.lol.train import TRAIN_KEYS

    hparams = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--hparam takes KEY=VALUE, got {item!r}")
        if key in TRAIN_KEYS:
            raise UserError(f"--hparam {key}: a training setting; use --{key.replace('_', '-')}")
        try:
            hparams[key] = json.loads(text)
        except json.JSONDecodeError:
            hparams[key] = text
    return hparams


def headline(metrics: dict) -> str:
    names = [n for n in ("r2", "kendall_tau", "accuracy", "auroc") if n in metrics]
    return ", ".join(f"{n} {metrics[n]:.3f}" for n in names)
