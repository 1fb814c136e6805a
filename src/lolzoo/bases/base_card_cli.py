"""`lolzoo base-card --sd DIR --clip DIR --out DIR`: the pretrained bases' card.

Writes card.json (see lolzoo.bases.base_card for every number), digits_grid.png (one row per
digit class), faces_grid.png and faces_prompts.txt (the grid's prompts, row by row), atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from lolzoo.errors import UserError
from lolzoo.io import atomic_dir, atomic_write_json

CARD_FILE = "card.json"


def add_arguments(parser) -> None:
    parser.add_argument("--sd", required=True, type=Path, help="a tiny-sd base folder (pretrained)")
    parser.add_argument("--clip", required=True, type=Path, help="a tiny-clip base folder (pretrained)")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write")
    parser.add_argument("--samples-per-digit", type=int, default=10, help="digit samples per class (default 10)")
    parser.add_argument("--face-samples", type=int, default=64, help="face samples (default 64)")
    parser.add_argument("--classifier-faces", type=int, default=2000,
                        help="generated faces the attribute classifiers learn from (default 2000)")
    parser.add_argument("--guidance-scale", type=float, default=None, help="classifier-free guidance (default 5)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    for folder, kind in ((args.sd, "tiny-sd"), (args.clip, "tiny-clip")):
        card = folder / "base.json"
        if not card.is_file():
            raise UserError(f"{folder}: not a base folder (no base.json); build one with `lolzoo build-base`")
        if json.loads(card.read_text()).get("kind") != kind:
            raise UserError(f"{folder}: is not a {kind} base")
    if args.samples_per_digit < 1 or args.face_samples < 1 or args.classifier_faces < 10:
        raise UserError("--samples-per-digit and --face-samples must be at least 1, --classifier-faces at least 10")
    torch.set_num_threads(args.threads)
    from lolzoo.bases import base_card
    from lolzoo.bases.tiny_clip import load_tiny_clip
    from lolzoo.bases.tiny_sd import load_tiny_sd

    pipeline, clip = load_tiny_sd(args.sd), load_tiny_clip(args.clip)
    options = {"guidance_scale": args.guidance_scale, "steps": args.steps}
    started = time.monotonic()
    try:
        with atomic_dir(args.out, overwrite=args.overwrite) as staging:
            card = base_card.make_card(pipeline, clip, staging, samples_per_digit=args.samples_per_digit,
                                       face_samples=args.face_samples, classifier_faces=args.classifier_faces,
                                       seed=args.seed, **{k: v for k, v in options.items() if v is not None})
            card["bases"] = {"sd": str(args.sd), "clip": str(args.clip),
                             "sd_pretraining": json.loads((args.sd / "base.json").read_text()).get("pretraining"),
                             "clip_pretraining": json.loads((args.clip / "base.json").read_text()).get("pretraining")}
            card["seconds"] = round(time.monotonic() - started, 1)
            atomic_write_json(staging / CARD_FILE, card)
    except FileExistsError as err:
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from err
    print(f"prompted-digit accuracy {card['prompted_digit_accuracy']:.2f} (chance 0.10), "
          f"face attribute accuracy {card['face_attribute_accuracy']:.2f} "
          f"(chance {card['face_attribute_chance']:.2f}), CLIP margin {card['clip_margin']:.2f}; wrote {args.out}")
    return 0
