"""`lolzoo evaluate-language --job JSON --base DIR --data DIR [--loras DIR] [--halves] --out PATH`: label a shard.

Each LoRA of the shard folder (`lolzoo finetune-language`) is loaded onto the base in turn
and scored on the prepared ARC folder (evaluate.py). --out gets one label file per LoRA,
written atomically once the whole shard is scored:

    <out>/<lora_id>.json   val_loss, arc_c_accuracy, arc_c_accuracy_norm, train_questions,
                           has_<source> (1 when the LoRA trained on that droppable source)

--halves adds each score on the even- and odd-indexed questions of its split, <label>_even and
<label>_odd (val_loss, arc_c_accuracy, arc_c_accuracy_norm): the two halves of a split-half
reliability (the evaluation is deterministic, so a second run would only repeat the first).
Their mean, weighted by answer tokens for val_loss and by questions for the accuracies, is the
full score.

Without --loras it scores the base alone (the job's recipes may be empty) and --out is one JSON
file: the base's numbers, the chance accuracy and the question counts, recorded next to the
LoRAs'.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lolzoo.errors import LolzooError


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"zoo": {...}, "recipes": [...]}: the zoo and the shard (JSON, or @FILE holding it)')
    parser.add_argument("--base", required=True, type=Path, help="the causal LM folder the LoRAs adapt")
    parser.add_argument("--data", required=True, type=Path, help="a prepared ARC folder (lolzoo prepare-arc)")
    parser.add_argument("--loras", type=Path, help="the shard folder of adapters; omit to score the base alone")
    parser.add_argument("--halves", action="store_true",
                        help="also write each score on the even and odd questions (<label>_even, <label>_odd)")
    parser.add_argument("--out", required=True, type=Path,
                        help="the label folder to write (<lora_id>.json), or the base's JSON file without --loras")


def lora_labels(train_record: dict, droppable: list[str], dropped: frozenset[str]) -> dict:
    """The finetuning-data labels of one LoRA: how many questions, and which sources it saw."""
    return {"train_questions": int(train_record["questions"]),
            **{f"has_{source}": int(source not in dropped) for source in droppable}}


def run(args) -> int:
    started = time.perf_counter()
    from lolzoo.language.job import evaluation_settings, lora_ids, parse_job, run_limits, training_settings
    from lolzoo.data.arc_questions import CHANCE, read_split

    job = parse_job(args.job, needs_recipes=args.loras is not None)
    settings, limits, evaluation = training_settings(job), run_limits(job), evaluation_settings(job)
    droppable = list((job["zoo"].get("sources") or {}).get("droppable") or [])
    validation, test = read_split(args.data, "validation"), read_split(args.data, "test")
    test, validation = test[:evaluation.max_questions], validation[:evaluation.max_validation_questions]
    train_records = {}
    if args.loras is not None:
        for name in lora_ids(job):
            record = args.loras / name / "train.json"
            if not record.is_file():
                raise LolzooError(f"--loras {args.loras}: no finetuned LoRA {name} (missing {record})")
            try:
                train_records[name] = json.loads(record.read_text())
                int(train_records[name]["questions"])
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
                raise LolzooError(f"{record}: not a finetuning record of lolzoo finetune-language ({error})") from None

    from lolzoo.bases.loading import load_causal_lm
    from lolzoo.io import atomic_dir, atomic_write_json
    from lolzoo.language.encoding import encode
    from lolzoo.language.evaluate import Scorer
    from lolzoo.runtime import pick_device, quiet_library_progress

    quiet_library_progress()
    device = pick_device()
    model, tokenizer = load_causal_lm(args.base)
    model.to(device)
    scorer = Scorer(encode(tokenizer, validation, limits.max_length), encode(tokenizer, test, limits.max_length),
                    tokenizer.pad_token_id, evaluation.batch_size, device)
    loaded = time.perf_counter()

    if args.loras is None:
        result = {**scorer.evaluate(model, halves=args.halves), "chance": CHANCE, "validation_questions": len(validation),
                  "test_questions": len(test), "seconds": time.perf_counter() - started}
        atomic_write_json(args.out, result)
        print(f"base: ARC-C accuracy {result['arc_c_accuracy']:.3f} (chance {CHANCE}), "
              f"val loss {result['val_loss']:.4f}, wrote {args.out}")
        return 0

    from peft import PeftModel

    with atomic_dir(args.out, overwrite=True) as staging:
        for setting in settings:
            lora_started = time.perf_counter()
            adapted = PeftModel.from_pretrained(model, str(args.loras / setting.lora_id), is_trainable=False)
            adapted.eval()
            numbers = scorer.evaluate(adapted, halves=args.halves)
            model = adapted.unload()
            atomic_write_json(staging / f"{setting.lora_id}.json", {
                **numbers, **lora_labels(train_records[setting.lora_id], droppable, setting.dropped_sources)})
            print(f"{setting.lora_id}: ARC-C {numbers['arc_c_accuracy']:.3f}, val loss {numbers['val_loss']:.4f} "
                  f"({time.perf_counter() - lora_started:.1f} s)", flush=True)
    print(f"{len(settings)} LoRAs on {len(test)} ARC-C questions and {len(validation)} validation questions "
          f"({loaded - started:.1f} s loading, {time.perf_counter() - loaded:.1f} s scoring), wrote {args.out}")
    return 0
