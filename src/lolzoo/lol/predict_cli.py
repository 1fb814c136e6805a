"""`lolzoo predict --model DIR PATH...`: one JSON line per LoRA on stdout, in label units.

    {"path": "a/lora", "prediction": 31.2}                                   regression (one target)
    {"path": ..., "prediction": {"target": value, ...}}                       regression (several)
    {"path": ..., "prediction": {"label": probability, ...}}                  multilabel
    {"path": ..., "prediction": {"class": c, "probabilities": {c: p, ...}}}   multiclass

A LoRA that cannot be read or does not match the trained layout is refused with one line on
stderr naming what does not match; the others are still predicted, and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="a folder written by `lolzoo fit`")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="LoRA files or folders (PEFT, diffusers, kohya)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read .bin/.pt LoRAs (loaded weights-only)")


def run(args) -> int:
    from lolzoo.lol.artifacts import jsonable, load_model_folder
    from lolzoo.lol.predict import LayoutMismatch, predict_lora
    from lolzoo.lora import LoraFormatError, read_lora

    trained = load_model_folder(args.model)
    refused = 0
    for path in args.paths:
        try:
            prediction = predict_lora(read_lora(path, allow_pickle=args.allow_pickle), trained)
        except (LayoutMismatch, LoraFormatError, FileNotFoundError) as err:
            refused += 1
            print(f"lolzoo predict: refused {path}: {err}", file=sys.stderr)
            continue
        print(json.dumps(jsonable({"path": str(path), "prediction": prediction})), flush=True)
    return 1 if refused else 0
