"""`lolzoo synthesize --job JSON --out DIR --labels FILE`: one synthetic LoRA of a workflow zoo.

The job JSON is what the workflow passes every per-LoRA job: {"recipe": <its recipe row>,
"zoo": <its zoo's config>}. The LoRA is written as a PEFT folder and its GL-invariant
labels (see lolzoo.zoo.synthetic) as a JSON file: the same two outputs a finetune and an
evaluation job produce for a real LoRA.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True, help='{"recipe": {...}, "zoo": {...}} as JSON')
    parser.add_argument("--out", required=True, type=Path, help="the PEFT adapter folder to write")
    parser.add_argument("--labels", required=True, type=Path, help="the label JSON file to write")


def run(args) -> int:
    from lolzoo.io import atomic_write_json
    from lolzoo.lora import write_peft
    from lolzoo.zoo.synthetic import BASE_MODEL, SyntheticZooSpec, invariant_labels, synthetic_lora

    try:
        job = json.loads(args.job)
        recipe, zoo = job["recipe"], job["zoo"]
        spec = SyntheticZooSpec(count=1, seed=int(recipe["seed"]), ranks=(int(recipe["rank"]),),
                                reparametrise=bool(zoo["reparametrise"]), alpha=recipe["lora_alpha"],
                                shapes=tuple((str(p), int(n), int(m)) for p, n, m in zoo["modules"]))
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"--job is not a synthetic LoRA job: {err!r}") from None
    lora = synthetic_lora(spec, 0)  # the recipe's own seed makes it this LoRA's
    write_peft(lora, args.out, base_model=BASE_MODEL, overwrite=True)
    atomic_write_json(args.labels, invariant_labels(lora))
    return 0
