"""`lolzoo finetune-language --job JSON --base DIR --data DIR --out DIR`: a shard of ARC LoRAs.

The job is {"zoo": {...}, "recipes": [...]} (job.py); --data is a prepared ARC folder
(`lolzoo prepare-arc`), whose train split each LoRA finetunes on without its dropped sources
(with zoo.max_train_questions, on a sample of that many drawn with the recipe's seed).
The base loads once; each LoRA is trained on it in turn and unloaded again (finetune.py).
--out is written atomically, only when the whole shard succeeded:

    <out>/<lora_id>/adapter_model.safetensors, adapter_config.json   PEFT's adapter folder
    <out>/<lora_id>/train.json   lora_id, recipe, device, questions (after dropping sources),
                                 sources (questions per kept source), losses (one per optimiser
                                 step), steps, precision, skipped_steps (fp16: steps whose
                                 scaled gradient overflowed), seconds (its training and saving;
                                 the shard's loading split evenly)
    <out>/shard.json             loras, device, precision, seconds (import_and_load, training, total)

The zoo's precision (zoo.precision: fp32, the default; fp16 or bf16: mixed precision with the
base cast to that dtype, finetune.py) applies to every LoRA of the shard.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from lolzoo.errors import LolzooError

SHARD_FILE = "shard.json"
TRAIN_FILE = "train.json"


def add_arguments(parser) -> None:
    parser.add_argument("--job", required=True,
                        help='{"zoo": {...}, "recipes": [{...}, ...]} as JSON, or @FILE holding it')
    parser.add_argument("--base", required=True, type=Path, help="the causal LM folder to finetune")
    parser.add_argument("--data", required=True, type=Path, help="a prepared ARC folder (lolzoo prepare-arc)")
    parser.add_argument("--out", required=True, type=Path, help="the shard folder to write (one adapter folder per LoRA)")


def run(args) -> int:
    started = time.perf_counter()
    from lolzoo.language.job import parse_job, precision, run_limits, training_settings
    from lolzoo.data.arc_questions import read_split, sample, without_sources

    job = parse_job(args.job)
    settings = training_settings(job)  # a bad job fails before torch and the model load
    limits = run_limits(job)
    mixed = precision(job)
    train = read_split(args.data, "train")
    subsets = [sample(without_sources(train, s.dropped_sources), limits.max_train_questions, s.seed) for s in settings]
    empty = [s.lora_id for s, subset in zip(settings, subsets) if not subset]
    if empty:
        raise LolzooError(f"{empty[0]}: its recipe drops every source of {args.data / 'train.jsonl'}")
    if not args.base.is_dir():
        raise LolzooError(f"--base {args.base}: no such folder")

    from lolzoo.bases.identity import base_name
    from lolzoo.bases.loading import load_causal_lm
    from lolzoo.io import atomic_dir, atomic_write_json
    from lolzoo.language.encoding import encode
    from lolzoo.language.finetune import cast_base, steps_of, train_lora
    from lolzoo.runtime import log_precision_note, pick_device, progress, quiet_library_progress

    quiet_library_progress()
    device = pick_device()
    log_precision_note(device, mixed)
    model, tokenizer = load_causal_lm(args.base)
    model = cast_base(model, mixed).to(device)
    encoded = dict(zip((q.id for q in train), encode(tokenizer, train, limits.max_length)))
    loaded = time.perf_counter()
    total_steps = sum(steps_of(len(subset), s) for s, subset in zip(settings, subsets))
    with atomic_dir(args.out, overwrite=True) as staging, progress(total_steps, f"finetune {len(settings)} LoRAs") as bar:
        for recipe, setting, subset in zip(job["recipes"], settings, subsets):
            lora_started = time.perf_counter()
            trained = train_lora(model, [encoded[q.id] for q in subset], setting, tokenizer.pad_token_id,
                                 limits.micro_batch_size, device, on_step=bar.update, precision=mixed)
            folder = staging / setting.lora_id
            # the base's name, not the folder it was loaded from (lolzoo predict checks it)
            trained.model.peft_config["default"].base_model_name_or_path = base_name(args.base)
            trained.model.save_pretrained(str(folder))
            model = trained.model.unload()  # the base, unchanged, for the next LoRA
            seconds = {"import_and_load": (loaded - started) / len(settings),
                       "training_and_saving": time.perf_counter() - lora_started}
            atomic_write_json(folder / TRAIN_FILE, {
                "lora_id": setting.lora_id, "recipe": recipe, "device": str(device), "questions": len(subset),
                "sources": dict(sorted(Counter(q.source for q in subset).items())),
                "losses": trained.losses, "steps": trained.steps, "precision": mixed,
                "skipped_steps": trained.skipped_steps,
                "seconds": {**seconds, "total": sum(seconds.values())}})
        finished = time.perf_counter()
        atomic_write_json(staging / SHARD_FILE, {
            "loras": len(settings), "device": str(device), "precision": mixed, "steps": total_steps,
            "seconds": {"import_and_load": loaded - started, "training": finished - loaded,
                        "total": finished - started}})
    print(f"{len(settings)} LoRAs, {total_steps} optimiser steps on {device} in {mixed} "
          f"({finished - loaded:.1f} s training, "
          f"{time.perf_counter() - started:.1f} s total), wrote {args.out}")
    return 0
