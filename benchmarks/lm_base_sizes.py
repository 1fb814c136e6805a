"""Cost per LoRA of the language zoo for candidate tiny-qwen2 sizes, one thread each.

For each size in lolzoo.bases.tiny_qwen2.SIZES: build it on the ARC train split, pretrain it
briefly (the loop of `lolzoo pretrain-base --kind tiny-qwen2`) and report its validation loss
next to the unigram cross-entropy (what a model of token frequencies alone scores); then time
what the workflow's jobs run per LoRA, with the package's own code:
  (a) one epoch of LoRA finetuning (lolzoo.language.finetune.train_lora: rank 4 on
      k_proj/v_proj, loss on the answer tokens, length-sorted micro-batches) on N questions;
  (b) scoring (lolzoo.language.evaluate.Scorer): validation loss on the held-out questions and
      ARC-C accuracy on Q test questions, every choice after one shared copy of its prompt.
      benchmarks/language_eval.py compares that with one row per choice.
Times are the process's CPU seconds (time.process_time; one thread, so this is what a job
costs on a free core): on a shared machine wall-clock times swing by 2x with the neighbours'
load. Prints a Markdown table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lm_base_sizes.py --data results/data/arc
"""

from __future__ import annotations

import argparse
import time

import torch

from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_lm import mean_loss, token_blocks, train_causal_lm, unigram_cross_entropy
from lolzoo.bases.tiny_qwen2 import SIZES, build_tiny_qwen2, parameter_count, pretraining_texts
from lolzoo.data.arc_questions import read_split
from lolzoo.language.encoding import encode
from lolzoo.language.evaluate import Scorer
from lolzoo.language.finetune import train_lora
from lolzoo.language.job import LanguageTraining

CPU = torch.device("cpu")
MAX_LENGTH = 256  # the schema's default max_length


def timed(fn, *args, **kwargs):
    started = time.process_time()
    result = fn(*args, **kwargs)
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared ARC folder (train/validation/test.jsonl)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--questions", type=int, default=1000, help="finetuning questions per LoRA")
    parser.add_argument("--score", type=int, default=1172, help="test questions scored per LoRA")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--micro-batch", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, validation = read_split(args.data, "train"), read_split(args.data, "validation")
    test = read_split(args.data, "test")[:args.score]
    finetune = (train * (1 + args.questions // max(len(train), 1)))[:args.questions]
    settings = LanguageTraining("bench", 0, 4, 8.0, ("k_proj", "v_proj"), 1e-3, 0.0, 1, args.batch, 0.05, frozenset())
    print(f"{len(finetune)} finetuning questions (batch {args.batch}, micro-batches of {args.micro_batch}), "
          f"{len(test)} test and {len(validation)} validation questions scored; one thread\n")
    print(f"| size | params (transformer) | pretrain CPU s/step | val loss, {args.pretrain_steps} steps (unigram) "
          f"| (a) epoch s | (b) scoring s | (a)+(b) 1 epoch | 2 epochs | accuracy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        model, tokenizer = build_tiny_qwen2(train, seed=0, size=size)
        blocks = token_blocks(tokenizer, pretraining_texts(train))
        val_blocks = token_blocks(tokenizer, pretraining_texts(validation))
        pretrain_s, _ = timed(train_causal_lm, model, blocks, Budget(steps=args.pretrain_steps))
        val, unigram = mean_loss(model, val_blocks), unigram_cross_entropy(blocks, val_blocks, len(tokenizer))
        counts = parameter_count(model)  # before the LoRA joins it
        pad = tokenizer.pad_token_id
        epoch_s, trained = timed(train_lora, model, encode(tokenizer, finetune, MAX_LENGTH), settings, pad,
                                 args.micro_batch, CPU)
        score_s, numbers = timed(lambda: Scorer(encode(tokenizer, validation, MAX_LENGTH),
                                                encode(tokenizer, test, MAX_LENGTH), pad, 32, CPU).evaluate(trained.model))
        print(f"| {size} | {counts['total']:,} ({counts['transformer']:,}) | {pretrain_s / args.pretrain_steps:.3f} "
              f"| {val:.2f} ({unigram:.2f}) | {epoch_s:.2f} | {score_s:.2f} | {epoch_s + score_s:.2f} "
              f"| {2 * epoch_s + score_s:.2f} | {numbers['arc_c_accuracy']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
