"""`lolzoo build-standins --out DIR [--parts sd clip lm celeba imagenette] [--seed N]`: local
stand-ins, at the paper's shapes and in its formats, for everything the paper world reads from a
hub or a download (issue 20).

DIR/sd14/ (a diffusers SD 1.4 folder), DIR/clip/open_clip_model.safetensors (ViT-B/16),
DIR/qwen2-1.5b/ (a causal-LM folder, bfloat16), DIR/CelebA/ and DIR/imagenette2/ (the data
folders as their owners lay them out), each written atomically, and DIR/standins.json: each
model's parameter count beside the real model's. Random weights: for shapes, formats, memory
and code paths, not for quality. Point the paper world's `bases.<name>.path` and
`data.<name>.root` at them.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.config.standins import STANDIN_FOLDERS as FOLDERS
from lolzoo.errors import UserError
from lolzoo.io import atomic_dir, atomic_write_json

PARTS = tuple(FOLDERS)
MODEL_OF = {"sd": ("sd14-unet", "sd14-vae", "sd14-text-encoder"), "clip": ("clip-vit-b-16",), "lm": ("qwen2-1.5b",)}


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="the folder that gets one sub-folder per part")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which stand-ins to write")
    parser.add_argument("--seed", type=int, default=0, help="weights and data are a pure function of the seed")
    parser.add_argument("--identities", type=int, default=30, help="CelebA: procedural identities (21 images each)")
    parser.add_argument("--images-per-class", type=int, default=20, help="Imagenette: digit images per class")
    parser.add_argument("--lm-texts", type=Path, default=None,
                        help="lm: a prepared ARC folder whose train questions the tokenizer learns, so ARC text "
                             "takes about as many tokens as with a real tokenizer (default: a few hundred words, "
                             "for tests only)")
    parser.add_argument("--overwrite", action="store_true", help="replace a part's folder that is already there")


def run(args) -> int:
    from lolzoo.bases import standins
    from lolzoo.bases.tokenizer import DEFAULT_CORPUS
    from lolzoo.data.standins import write_celeba, write_imagenette

    if args.identities < 1 or args.images_per_class < 1:
        raise UserError("--identities and --images-per-class must be at least 1")
    if args.lm_texts is not None:
        from lolzoo.bases.tiny_qwen2 import pretraining_texts
        from lolzoo.data.arc_questions import read_split

        lm_texts = pretraining_texts(read_split(args.lm_texts, "train"))
    else:
        lm_texts = list(DEFAULT_CORPUS)
    writers = {
        "sd": lambda folder: standins.write_sd14(folder, args.seed),
        "clip": lambda folder: standins.write_clip_vit_b_16(folder / "open_clip_model.safetensors", args.seed),
        "lm": lambda folder: standins.write_qwen2_1_5b(folder, lm_texts, args.seed),
        "celeba": lambda folder: write_celeba(folder, args.identities, 21, args.seed),
        "imagenette": lambda folder: write_imagenette(folder, args.images_per_class, args.seed),
    }
    there = [FOLDERS[p] for p in args.parts if (args.out / FOLDERS[p]).is_dir() and any((args.out / FOLDERS[p]).iterdir())]
    if there and not args.overwrite:
        raise UserError(f"{args.out}: {', '.join(there)} already written; pass --overwrite to replace them")
    args.out.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        with atomic_dir(args.out / FOLDERS[part], overwrite=args.overwrite) as staging:
            writers[part](staging)
        print(f"wrote the {part} stand-in to {args.out / FOLDERS[part]}")
    record_path = args.out / "standins.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    counts = standins.parameter_counts([m for part in args.parts for m in MODEL_OF.get(part, ())])
    for part in args.parts:
        record[part] = {"folder": FOLDERS[part], "seed": args.seed}
        for model in MODEL_OF.get(part, ()):
            record[part][model] = {"parameters": counts[model], "published": standins.PUBLISHED_PARAMETERS[model]}
        if part == "lm":
            record[part]["tokenizer_texts"] = str(args.lm_texts) if args.lm_texts else "built-in word list"
    atomic_write_json(record_path, record)
    return 0
