"""What scoring one language LoRA costs: validation loss plus ARC-Challenge accuracy.

Loads a causal LM base folder (results/bases/lm, results/bases/smollm2, ...) and a prepared
ARC folder, puts a fresh rank-4 k_proj/v_proj LoRA on it, and times the evaluation the
workflow runs per LoRA: every choice after one shared copy of its prompt (encoding.py), at
several batch sizes, against the textbook way (one row per question and choice, batched the
same). Prints one row per (method, batch): the one-off preparation (tokenised batches and
masks, shared by a shard's LoRAs), seconds per LoRA (scoring plus validation loss), questions
per second, tokens run, and the accuracy (both methods must agree).

    python benchmarks/language_eval.py --base results/bases/lm --data results/data/arc
                                       [--questions 1172] [--batches 8 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def naive_rows(encoded):
    """(question, choice) pairs as separate sequences: the cost the shared prompt saves."""
    from lolzoo.language.encoding import EncodedQuestion

    return [EncodedQuestion(q.prompt, (choice,), 0, (1,)) for q in encoded for choice in q.choices]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--questions", type=int, default=None, help="ARC-C test questions (default: all)")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    import numpy as np
    import torch
    from peft import get_peft_model

    from lolzoo.bases.loading import load_causal_lm
    from lolzoo.language.encoding import encode
    from lolzoo.language.evaluate import Scorer, arc_accuracy
    from lolzoo.language.finetune import lora_config
    from lolzoo.language.job import LanguageTraining
    from lolzoo.data.arc_questions import read_split

    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(args.base)
    settings = LanguageTraining("bench", 0, 4, 8.0, ("k_proj", "v_proj"), 1e-4, 0.0, 1, 32, 0.0, frozenset())
    torch.manual_seed(0)
    model = get_peft_model(model, lora_config(settings)).eval()
    loaded = time.perf_counter() - started
    test = read_split(args.data, "test")[:args.questions]
    validation = read_split(args.data, "validation")
    encoded, encoded_validation = encode(tokenizer, test, args.max_length), encode(tokenizer, validation, args.max_length)
    pad = tokenizer.pad_token_id
    shared_tokens = sum(len(q.prompt) + sum(map(len, q.choices)) for q in encoded)
    naive_tokens = sum(len(q.prompt) * len(q.choices) + sum(map(len, q.choices)) for q in encoded)
    params = sum(p.numel() for p in model.parameters())
    print(f"base {args.base}: {params / 1e6:.2f} M parameters, loaded in {loaded:.1f} s; "
          f"{len(test)} test and {len(validation)} validation questions; {args.threads} thread(s)")
    start = time.perf_counter()
    loss = Scorer(encoded_validation, [], pad, 32, cpu).validation_loss(model)
    validation_seconds = time.perf_counter() - start
    print(f"validation loss {loss:.4f} in {validation_seconds:.2f} s\n")
    print(f"{'method':<14}{'batch':>6}{'prepare s':>10}{'s/LoRA':>9}{'questions/s':>13}{'tokens':>9}{'accuracy':>10}")
    for batch in args.batches:
        for method in ("shared prompt", "per choice"):
            start = time.perf_counter()
            rows = encoded if method == "shared prompt" else naive_rows(encoded)
            scorer = Scorer([], rows, pad, batch if method == "shared prompt" else batch * 4, cpu)
            prepared = time.perf_counter()
            flat = scorer.choice_log_likelihoods(model)
            seconds = time.perf_counter() - prepared
            if method == "shared prompt":
                scores, tokens = flat, shared_tokens
            else:  # regroup the one-choice rows into questions
                bounds = np.cumsum([0] + [len(q.choices) for q in encoded])
                scores = [np.array([s[0] for s in flat[bounds[i]:bounds[i + 1]]]) for i in range(len(encoded))]
                tokens = naive_tokens
            accuracy = arc_accuracy(scores, encoded)["accuracy"]
            print(f"{method:<14}{batch:>6}{prepared - start:>10.2f}{seconds + validation_seconds:>9.2f}"
                  f"{len(encoded) / seconds:>13.1f}{tokens:>9}{accuracy:>10.3f}")

if __name__ == "__main__":
    main()
