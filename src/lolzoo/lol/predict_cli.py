"""`lolzoo predict --model DIR PATH...`: score LoRA files and folders, e.g. downloaded from the web.

Inputs: any number of paths. A file is one LoRA (*.safetensors: kohya or diffusers; pickles
.bin/.pt/.pth/.ckpt only with --allow-pickle, otherwise refused); so is a PEFT adapter folder,
a diffusers folder and a folder of component adapters (unet/, text_encoder/). Any other folder
is walked recursively and every LoRA inside is scored (lolzoo.lora.discover), one in memory
at a time, each printed as soon as it is scored.

Output (lolzoo.lol.predict_output): one JSON line per LoRA on stdout by default, `--format csv`
with one column per label, or `--format table` printed at the end:

    {"path": "a/lora", "model": "DIR", "kind": "glnet", "task": "regression",
     "prediction": 31.2, "notices": [], "seconds": 0.004}
    prediction: 31.2                                       regression (one target)
                {"target": value, ...}                     regression (several)
                {"label": probability, ...}                multilabel
                {"class": c, "probabilities": {c: p}}      multiclass

What the model cannot read is refused with one line on stderr, `lolzoo predict: refused PATH:
reason` (modules missing from the trained layout or of other shapes, listed; a rank MLP and
O-Align cannot take, a declared base other than the model's zoo's: lolzoo.lol.predict), and the rest is still scored. Modules of a whole component the model does
not use (a text encoder's) are dropped with a notice (stderr and `notices`). DoRA adapters score
under a model fitted on a DoRA zoo, which refuses plain LoRAs; a model fitted on plain LoRAs
scores a DoRA adapter's low-rank part, with a notice. The last stderr line sums up:
`scored N, refused M`.

Exit status: 0 all scored; 1 some refused; 2 a usage error (bad arguments, a --model folder
that is not a trained model, a path that does not exist, no LoRA under the paths).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

PROG = "lolzoo predict"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="a folder written by `lolzoo fit`")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="LoRA files or folders (PEFT, diffusers, kohya); other folders are searched recursively")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read .bin/.pt/.pth/.ckpt LoRAs (loaded weights-only); only files you trust")
    parser.add_argument("--any-base", action="store_true",
                        help="score LoRAs that declare another base than the model's zoo (with a notice) "
                             "instead of refusing them")
    parser.add_argument("--format", choices=["jsonl", "csv", "table"], default="jsonl",  # predict_output.WRITERS
                        help="JSON lines (default) or CSV, printed as each LoRA is scored, or a table at the end")


def run(args) -> int:
    from lolzoo.errors import UserError
    from lolzoo.lol.artifacts import load_model_folder
    from lolzoo.lol.predict import LayoutMismatch, predict_lora
    from lolzoo.lol.predict_output import WRITERS, prediction_record, record_columns
    from lolzoo.lora import LoraFormatError, read_lora
    from lolzoo.lora.discover import find_loras

    absent = [str(path) for path in args.paths if not path.exists()]
    if absent:
        raise UserError(f"no such file or folder: {', '.join(absent)}")
    trained = load_model_folder(args.model)
    writer = WRITERS[args.format](sys.stdout, record_columns(trained))
    scored = refused = 0
    for path in find_loras(args.paths):
        start = time.perf_counter()
        try:
            prediction = predict_lora(read_lora(path, allow_pickle=args.allow_pickle), trained, args.any_base)
        except (LayoutMismatch, LoraFormatError) as err:
            refused += 1
            print(f"{PROG}: refused {path}: {str(err).removeprefix(f'{path}: ')}", file=sys.stderr, flush=True)
            continue
        seconds = time.perf_counter() - start
        scored += 1
        for notice in prediction.notices:
            print(f"{PROG}: notice {path}: {notice}", file=sys.stderr)
        writer.write(prediction_record(path, args.model, trained, prediction, seconds))
    writer.close()
    if not scored + refused:
        raise UserError(f"no LoRA files or folders under {', '.join(map(str, args.paths))}")
    print(f"{PROG}: scored {scored}, refused {refused}", file=sys.stderr)
    return 1 if refused else 0
