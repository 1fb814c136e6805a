"""Train one PEFT LoRA of a causal LM on ARC questions, the loss on the answer tokens only.

AdamW on the LoRA parameters at the recipe's learning rate and weight decay, for its epochs,
in its batch size (a batch is split into micro-batches whose summed token losses are divided
by the batch's answer-token count, so the gradient is that of the whole batch whatever the
split). Deterministic on a CPU for the recipe's seed: the seed sets the LoRA's initialisation,
its dropout and its shuffling, so a LoRA is the same whichever shard trains it.

Precision (the zoo's `precision`, lolzoo.runtime): in fp16 or bf16 the caller casts the frozen
base to that dtype (`cast_base`); peft keeps the LoRA parameters in float32 (get_peft_model's
autocast_adapter_dtype), the forward runs under torch.autocast and the log-probabilities are
taken in float32; fp16 scales the loss with torch.amp.GradScaler (a step whose gradient overflows
is skipped and counted). fp32 is the training above, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lolzoo.language.encoding import EncodedQuestion, training_batch
from lolzoo.language.log_probs import answer_targets, token_log_probs
from lolzoo.language.job import LanguageTraining
from lolzoo.runtime import autocast, needs_loss_scaling, weight_dtype


@dataclass
class TrainedLora:
    model: object          # the PeftModel around the base; `unload()` gives the base back unchanged
    losses: list[float]    # mean answer-token loss of every optimiser step
    steps: int
    skipped_steps: int = 0  # fp16: optimiser steps skipped because the scaled gradient overflowed


def cast_base(model, precision: str):
    """The base in the precision's half dtype (fp16, bf16), or as it is (fp32); frozen weights only need half."""
    dtype = weight_dtype(precision)
    return model if dtype is None else model.to(dtype)


def lora_config(settings: LanguageTraining):
    from peft import LoraConfig

    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, target_modules=list(settings.target_modules),
                      lora_dropout=settings.lora_dropout, bias="none", task_type="CAUSAL_LM",
                      use_dora=settings.dora)


def batches(count: int, batch_size: int, epochs: int, seed: int):
    """Index lists of every optimiser step: a fresh seeded shuffle per epoch, the last batch may be short."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(count, generator=generator).tolist()
        for start in range(0, count, batch_size):
            yield order[start:start + batch_size]


def train_lora(base_model, questions: list[EncodedQuestion], settings: LanguageTraining, pad_id: int,
               micro_batch_size: int, device: torch.device, on_step=None, precision: str = "fp32") -> TrainedLora:
    from peft import get_peft_model

    if not questions:
        raise ValueError(f"{settings.lora_id}: no finetuning questions are left after dropping its sources")
    torch.manual_seed(settings.seed)  # the LoRA A init and the dropout masks draw from here
    model = get_peft_model(base_model, lora_config(settings), autocast_adapter_dtype=True)  # float32 LoRAs
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scaler = torch.amp.GradScaler(device.type) if needs_loss_scaling(precision) else None
    skipped = 0
    model.train()
    losses = []
    for indices in batches(len(questions), settings.batch_size, settings.num_epochs, settings.seed):
        # longest first, so each micro-batch holds questions of similar length (little padding);
        # the order inside a batch does not change its gradient
        batch = sorted((questions[i] for i in indices), key=lambda q: -(len(q.prompt) + len(q.correct)))
        answer_tokens = sum(len(q.correct) for q in batch)
        optimizer.zero_grad(set_to_none=True)
        summed = 0.0
        for start in range(0, len(batch), micro_batch_size):
            tensors = training_batch(batch[start:start + micro_batch_size], pad_id)
            targets = answer_targets(tensors["labels"])
            with autocast(device, precision):
                log_probs = token_log_probs(model, tensors["input_ids"].to(device),
                                            tensors["attention_mask"].to(device), None, *(t.to(device) for t in targets))
            total = -log_probs.sum()
            loss = total / answer_tokens
            (loss if scaler is None else scaler.scale(loss)).backward()
            summed += float(total.detach())
        if scaler is None:
            optimizer.step()
        else:  # unscale, step only if every gradient is finite, then adapt the scale
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            skipped += scaler.get_scale() < scale
        losses.append(summed / answer_tokens)
        if on_step is not None:
            on_step()
    model.eval()
    return TrainedLora(model=model, losses=losses, steps=len(losses), skipped_steps=int(skipped))


def steps_of(count: int, settings: LanguageTraining) -> int:
    """Optimiser steps a recipe takes on `count` questions (for a progress bar's total)."""
    return settings.num_epochs * -(-count // settings.batch_size)
