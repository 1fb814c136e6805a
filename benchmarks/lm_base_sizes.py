"""Cost per LoRA of the language zoo for candidate tiny-qwen2 sizes, one thread each.

For each size in lolzoo.bases.tiny_qwen2.SIZES: build it on the ARC train split, pretrain it
briefly (the loop of `lolzoo pretrain-base --kind tiny-qwen2`) and report its validation loss
next to the unigram cross-entropy (what a model of token frequencies alone scores); then time,
on that model with a fresh rank-4 k_proj/v_proj LoRA (peft):
  (a) one epoch of LoRA finetuning on N questions (prompt + correct answer + EOS) at batch 64,
      the loss on all tokens or (as the workflow) on the answer's tokens only,
      batches cut from length-sorted questions (little padding), in shuffled order, and no
      attention mask (right padding under causal attention changes no real token's output;
      the pads' labels are -100);
  (b) scoring Q questions x their choices by the summed log-likelihood of each continuation,
      two ways: "naive" (one padded sequence per choice, attention mask, full logits) and
      "fast" (no attention mask, output head only where needed; checked equal to naive).
      Sharing each prompt's key/value cache among its choices (a left-padded prompt pass, then
      the choices with an attention mask) was no faster than "fast" in our try; the workflow's
      own scorer shares prompts differently (benchmarks/language_eval.py measures it).
Times are the process's CPU seconds (time.process_time; one thread, so this is what a job
costs on a free core): on a shared machine wall-clock times swing by 2x with the neighbours'
load. Prints a Markdown table; the totals use the answer-only epoch. The default world needs
(a, 1-2 epochs) + (b) of about 2.5 s or less per LoRA (300 LoRAs in ~6 minutes on 2 cores).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lm_base_sizes.py --data results/data/arc
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from lolzoo.bases.pretrain_budget import Budget
from lolzoo.bases.pretrain_lm import mean_loss, token_blocks, train_causal_lm, unigram_cross_entropy
from lolzoo.bases.tiny_qwen2 import SIZES, answered, build_tiny_qwen2, parameter_count, pretraining_texts
from lolzoo.language.questions import continuation, prompt, read_split


def with_lora(model):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, target_modules=["k_proj", "v_proj"]))


def finetune_epoch(peft_model, tokenizer, questions, batch_size: int, answer_only: bool, seed: int = 0) -> float:
    """CPU seconds for one epoch of LoRA training (tokenizing included). The loss is on every token,
    or (answer_only, as the workflow's finetuning) on the answer's tokens alone, with the output
    head run only at the positions that predict them."""
    started = time.process_time()
    prompts = tokenizer([prompt(q) for q in questions], add_special_tokens=False)["input_ids"]
    ids = tokenizer([answered(q) + tokenizer.eos_token for q in questions], add_special_tokens=False)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(batches)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)
    base = peft_model.get_base_model()
    peft_model.train()
    for batch in batches:
        input_ids, mask = _pad([ids[i] for i in batch], tokenizer.pad_token_id, left=False)
        if answer_only:
            hidden = base.model(input_ids=input_ids).last_hidden_state  # no mask: see above
            rows, positions = [], []
            for r, i in enumerate(batch):
                rows += [r] * (len(ids[i]) - len(prompts[i]))
                positions += range(len(prompts[i]) - 1, len(ids[i]) - 1)
            logits = base.lm_head(hidden[rows, positions])
            loss = torch.nn.functional.cross_entropy(logits, input_ids[rows, [p + 1 for p in positions]])
        else:
            loss = peft_model(input_ids=input_ids, labels=input_ids.masked_fill(mask == 0, -100)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    peft_model.eval()
    return time.process_time() - started


def _pad(rows: list[list[int]], pad: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        where = slice(width - len(r), width) if left else slice(0, len(r))
        ids[k, where], mask[k, where] = torch.tensor(r), 1
    return ids, mask


@torch.no_grad()
def score_naive(model, tokenizer, questions, batch_size: int = 256) -> list[torch.Tensor]:
    prompts = tokenizer([prompt(q) for q in questions], add_special_tokens=False)["input_ids"]
    rows = [(i, c) for i, q in enumerate(questions) for c in q.choices]
    conts = tokenizer([continuation(c) for _, c in rows], add_special_tokens=False)["input_ids"]
    order = sorted(range(len(rows)), key=lambda k: len(prompts[rows[k][0]]) + len(conts[k]))
    scores = torch.empty(len(rows))
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        ids, mask = _pad([prompts[rows[k][0]] + conts[k] for k in chunk], tokenizer.pad_token_id, left=False)
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
        token_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        positions = torch.arange(ids.shape[1] - 1).unsqueeze(0)
        first = torch.tensor([len(prompts[rows[k][0]]) - 1 for k in chunk]).unsqueeze(1)
        scores[chunk] = (token_logp * ((positions >= first) & (mask[:, 1:] == 1))).sum(1)
    out, k = [], 0
    for q in questions:
        out.append(scores[k:k + len(q.choices)])
        k += len(q.choices)
    return out


@torch.no_grad()
def score_fast(model, tokenizer, questions, batch_size: int = 64) -> list[torch.Tensor]:
    """Like score_naive, but without an attention mask (rows are right-padded and attention is
    causal, so the pads after a row's tokens change none of them: torch's fast causal path)
    and with the output head applied only where a continuation token is predicted."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    prompts = tokenizer([prompt(q) for q in questions], add_special_tokens=False)["input_ids"]
    rows = [(i, c) for i, q in enumerate(questions) for c in q.choices]
    conts = tokenizer([continuation(c) for _, c in rows], add_special_tokens=False)["input_ids"]
    order = sorted(range(len(rows)), key=lambda k: len(prompts[rows[k][0]]) + len(conts[k]))
    scores = torch.empty(len(rows))
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        ids, _ = _pad([prompts[rows[k][0]] + conts[k] for k in chunk], tokenizer.pad_token_id, left=False)
        hidden = base.model(input_ids=ids).last_hidden_state
        row_of, position, target = [], [], []
        for r, k in enumerate(chunk):
            first = len(prompts[rows[k][0]]) - 1  # the prompt's last position predicts the first token
            for j, token in enumerate(conts[k]):
                row_of.append(r)
                position.append(first + j)
                target.append(token)
        logp = torch.log_softmax(base.lm_head(hidden[row_of, position]).float(), -1)
        picked = logp[torch.arange(len(target)), target]
        scores[chunk] = torch.zeros(len(chunk)).index_add_(0, torch.tensor(row_of), picked)
    out, k = [], 0
    for q in questions:
        out.append(scores[k:k + len(q.choices)])
        k += len(q.choices)
    return out


def accuracy(scores, questions) -> float:
    return sum(int(s.argmax()) == q.answer for s, q in zip(scores, questions)) / len(questions)


def timed(fn, *args):
    started = time.process_time()
    result = fn(*args)
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared ARC folder (train/validation/test.jsonl)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--questions", type=int, default=1500, help="finetuning questions per LoRA")
    parser.add_argument("--score", type=int, default=1172, help="questions scored per LoRA")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, validation = read_split(args.data, "train"), read_split(args.data, "validation")
    test = read_split(args.data, "test")[:args.score]
    finetune = (train * (1 + args.questions // max(len(train), 1)))[:args.questions]
    print(f"{len(finetune)} finetuning questions, {len(test)} scored questions "
          f"({sum(len(q.choices) for q in test)} choices); one thread\n")
    print(f"| size | params (transformer) | pretrain CPU s/step | val loss, {args.pretrain_steps} steps "
          f"(unigram) | (a) epoch s, all tokens | (a) answer only | (b) naive s | (b) fast s | (a)+(b) 1 epoch | 2 epochs | accuracy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        model, tokenizer = build_tiny_qwen2(train, seed=0, size=size)
        blocks = token_blocks(tokenizer, pretraining_texts(train))
        val_blocks = token_blocks(tokenizer, pretraining_texts(validation))
        pretrain_s, _ = timed(train_causal_lm, model, blocks, Budget(steps=args.pretrain_steps))
        val, unigram = mean_loss(model, val_blocks), unigram_cross_entropy(blocks, val_blocks, len(tokenizer))
        counts = parameter_count(model)  # before the LoRA joins it
        peft_model = with_lora(model)
        epoch_all = finetune_epoch(peft_model, tokenizer, finetune, args.batch, answer_only=False)
        epoch = finetune_epoch(peft_model, tokenizer, finetune, args.batch, answer_only=True)
        naive_s, naive = timed(score_naive, peft_model, tokenizer, test)
        fast_s, fast = timed(score_fast, peft_model, tokenizer, test)
        gap = max(float((a - b).abs().max()) for a, b in zip(naive, fast))
        assert gap < 1e-3, f"fast scores differ from naive ones by {gap}"
        print(f"| {size} | {counts['total']:,} ({counts['transformer']:,}) | {pretrain_s / args.pretrain_steps:.3f} "
              f"| {val:.2f} ({unigram:.2f}) | {epoch_all:.2f} | {epoch:.2f} | {naive_s:.2f} | {fast_s:.2f} | {epoch + fast_s:.2f} "
              f"| {2 * epoch + fast_s:.2f} | {accuracy(fast, test):.3f} |", flush=True)


if __name__ == "__main__":
    main()
