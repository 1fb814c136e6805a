"""`lolzoo build-base --kind {tiny-sd,tiny-clip,tiny-qwen2} --seed N [--data ARC] --out DIR`: an
untrained tiny base.

Writes the folder atomically (a killed job leaves no folder that looks complete): a tiny-sd
folder loads with StableDiffusionPipeline.from_pretrained, a tiny-clip folder with
lolzoo.bases.tiny_clip.load_tiny_clip, a tiny-qwen2 folder with lolzoo.bases.loading.load_causal_lm
(or transformers' Auto classes). tiny-qwen2 trains its BPE tokenizer on the train split of the
prepared ARC folder given as --data. Every folder also gets base.json: kind, seed, parameter counts.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.config.kinds import PRETRAINED_BY_THE_WORKFLOW
from lolzoo.errors import UserError
from lolzoo.io import atomic_dir, atomic_write_json

CARD_FILE = "base.json"


def add_arguments(parser) -> None:
    parser.add_argument("--kind", required=True, choices=PRETRAINED_BY_THE_WORKFLOW, help="which base to build")
    parser.add_argument("--seed", type=int, default=0, help="the weights are a pure function of the seed (default 0)")
    parser.add_argument("--data", type=Path, default=None,
                        help="tiny-qwen2: a prepared ARC folder; its train split trains the tokenizer")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    if (args.kind == "tiny-qwen2") != (args.data is not None):
        raise UserError("--data (a prepared ARC folder) is needed by tiny-qwen2, and only by it")
    try:
        with atomic_dir(args.out, overwrite=args.overwrite) as staging:
            card = {"kind": args.kind, "seed": args.seed, "trained": False}
            if args.kind == "tiny-qwen2":
                card.update(build_and_save_lm(args.data, args.seed, staging))
            else:
                card["parameters"] = build_and_save(args.kind, args.seed, staging)
            counts = card["parameters"]
            atomic_write_json(staging / CARD_FILE, card)
    except FileExistsError as err:  # atomic_dir checks before anything is built
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from err
    print(f"wrote untrained {args.kind} (seed {args.seed}, {counts}) to {args.out}")
    return 0


def build_and_save(kind: str, seed: int, folder: Path) -> dict[str, int]:
    if kind == "tiny-sd":
        from lolzoo.bases.tiny_sd import build_tiny_sd, parameter_counts, save_tiny_sd

        pipeline = build_tiny_sd(seed)
        save_tiny_sd(pipeline, folder)
        return parameter_counts(pipeline)
    from lolzoo.bases.tiny_clip import build_tiny_clip, parameter_count, save_tiny_clip

    clip = build_tiny_clip(seed)
    save_tiny_clip(clip, folder)
    return parameter_count(clip)


def build_and_save_lm(data: Path, seed: int, folder: Path) -> dict:
    from lolzoo.bases.tiny_qwen2 import DEFAULT_SIZE, build_tiny_qwen2, parameter_count, save_tiny_qwen2
    from lolzoo.data.arc_questions import read_split

    questions = read_split(data, "train")
    model, tokenizer = build_tiny_qwen2(questions, seed)
    save_tiny_qwen2(model, tokenizer, folder)
    return {"size": DEFAULT_SIZE, "vocab_size": len(tokenizer), "tokenizer_questions": len(questions),
            "parameters": parameter_count(model)}
