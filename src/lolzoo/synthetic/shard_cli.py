"""`lolzoo synthesize-shard --job JSON --out DIR --labels DIR`: a shard of synthetic LoRAs of a workflow zoo.

The job is the workflow's shard job (lolzoo.recipes.job), as JSON or `@FILE`: {"recipes":
[<recipe row>, ...], "zoo": {"type": "synthetic", "modules": ..., "reparametrise": ...}}. Each
LoRA is written as a PEFT folder `DIR/<lora_id>` and its GL-invariant labels (see
lolzoo.synthetic.generator) as `LABELS/<lora_id>.json`: the same two outputs a finetune and an
evaluation job produce for real LoRAs. Both folders appear whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

from lolzoo.config.kinds import SYNTHETIC_TYPES
from lolzoo.errors import UserError
from lolzoo.recipes.job import JobError, parse_job


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"recipes": [{...}, ...], "zoo": {...}} as JSON, or @FILE holding it')
    parser.add_argument("--out", required=True, type=Path, help="the folder of PEFT adapter folders to write")
    parser.add_argument("--labels", required=True, type=Path, help="the folder of label JSON files to write")


def shard_specs(job_text: str) -> dict:
    """lora_id -> SyntheticZooSpec of that one LoRA; a malformed job fails here, naming what is wrong."""
    from lolzoo.synthetic.generator import SyntheticZooSpec

    try:
        job = parse_job(job_text, SYNTHETIC_TYPES, "synthetic")
        zoo = job["zoo"]
        shapes = tuple((str(p), int(n), int(m)) for p, n, m in zoo["modules"])
        return {r["lora_id"]: SyntheticZooSpec(count=1, seed=int(r["seed"]), ranks=(int(r["rank"]),),
                                               reparametrise=bool(zoo["reparametrise"]),
                                               alpha=r["lora_alpha"], shapes=shapes)
                for r in job["recipes"]}
    except JobError as err:
        raise UserError(f"--job is not a synthetic shard job: {err}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"--job is not a synthetic shard job: {err!r}") from None


def run(args) -> int:
    from lolzoo.io import atomic_dir
    from lolzoo.lora import write_peft
    from lolzoo.synthetic.generator import BASE_MODEL, invariant_labels, synthetic_lora

    specs = shard_specs(args.job)
    with atomic_dir(args.out, overwrite=True) as loras, atomic_dir(args.labels, overwrite=True) as labels:
        for lora_id, spec in specs.items():
            lora = synthetic_lora(spec, 0)  # the recipe's own seed makes it this LoRA's
            write_peft(lora, loras / lora_id, base_model=BASE_MODEL, overwrite=True)
            (labels / f"{lora_id}.json").write_text(json.dumps(invariant_labels(lora), sort_keys=True) + "\n")
    print(f"wrote {len(specs)} synthetic LoRAs to {args.out} and their labels to {args.labels}")
    return 0
