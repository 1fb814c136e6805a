"""`lolzoo export-model FIT_DIR --out DIR [--fold K --seed S] [--reliability FILE] [--overwrite]`:
a trained LoL model as a folder to publish beside its zoo.

DIR gets model.safetensors and model.json, byte-identical to the fit's (checked), and README.md,
the model card (lolzoo.publish.model_card). `lolzoo predict --model DIR` reads it as it reads
the fit folder, with the same predictions. FIT_DIR is a `lolzoo fit-cv` folder (fold 0's
lowest seed by default; --fold / --seed choose another run, and the card reports the
cross-validated metrics over every fold × seed) or a single `lolzoo fit` folder (the card gives
its test metrics and says no interval exists). --reliability (the zoo's reliability.json from
`lolzoo reliability`) adds the noise ceiling to the card.
"""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("fit_dir", type=Path, metavar="FIT_DIR", help="a `lolzoo fit-cv` or `lolzoo fit` output folder")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write (new or empty)")
    parser.add_argument("--fold", type=int, help="the fold of a fit-cv folder whose run is published (default 0)")
    parser.add_argument("--seed", type=int, help="the seed of that fold's run (default: its lowest)")
    parser.add_argument("--reliability", type=Path, metavar="FILE",
                        help="the zoo's reliability.json (`lolzoo reliability`): the card shows the noise ceiling")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.errors import UserError
    from lolzoo.lol.artifacts import load_model_folder
    from lolzoo.publish.model_card import evaluation_table, model_card
    from lolzoo.publish.model_export import MODEL_FILES, check_out, choose_run, sha256, write_export
    from lolzoo.report.ceilings import read_reliability

    chosen = choose_run(args.fit_dir, args.fold, args.seed)
    check_out(chosen, args.out, args.overwrite)  # before the slower reading, so a typo fails at once
    trained = load_model_folder(chosen.folder)  # a damaged model fails here, in one line
    zoo = str(trained.info.get("zoo", {}).get("name"))
    reliability = None
    if args.reliability is not None:
        reliability = read_reliability([args.reliability])
        if zoo not in reliability:
            raise UserError(f"--reliability {args.reliability} is zoo {', '.join(reliability)}'s; the model was "
                            f"trained on zoo {zoo}")
    digests = {name: sha256(chosen.folder / name) for name in MODEL_FILES}
    card = model_card(chosen, trained, evaluation_table(chosen, reliability), digests, args.out.name,
                      args.reliability)
    write_export(chosen, args.out, card, digests, overwrite=args.overwrite)
    print(f"{trained.model.kind} on {zoo} ({trained.task.kind}: {', '.join(trained.task.targets)}), fold "
          f"{chosen.fold} seed {chosen.seed} of {chosen.folder} -> {args.out}")
    return 0
