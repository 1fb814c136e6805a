"""What the paper world (config/paper.yaml) costs: per-step costs measured on the paper-shaped
stand-ins, projected to GPU-hours and Slurm jobs for the full run (issue 20, part 3).

Measured on the device it runs on (CUDA when there is one, else the CPU), with random weights
at the true shapes (lolzoo.bases.standins), through the project's own code:

  sd-train     a DreamBooth micro-step of lolzoo's batched trainer (diffusion.finetune.finetune_shard)
               with B LoRAs at once (batch 1 each, 512 px, 64 x 64 latents), rank 4 and rank 32
               to_q/to_v LoRAs; on a GPU the peak memory of the training steps per B
  sd-denoise   one denoising step of the evaluation's batch (diffusion.evaluate.generate: classifier-
               free guidance, the LoRAs hooked in by evaluate.load_shard), timed between scheduler steps
  vae-decode   the end of that generate call: decoding the latents to 512 px images
  clip-score   a CLIP ViT-B/16 scoring batch (evaluate.image_clip_scores), on the device and on the
               CPU (evaluate-diffusion scores on the CPU)
  lm-train     a Qwen2-1.5B LoRA optimiser step (language.finetune.train_lora) on ARC questions as
               language.encoding encodes them (k_proj/v_proj, rank 4)
  lm-score     an ARC-C scoring batch and a validation-loss batch (language.evaluate.Scorer)
  lol-epoch    one epoch of GL-net and MLP (lol.train) on LoRAs of SD 1.4's to_q/to_v shapes
  base-load    what a job pays before its first step: the bases read from disk by
               lolzoo.bases.loading, and the interpreter's imports

Every piece's FLOPs are counted with torch.utils.flop_counter.FlopCounterMode on the meta
device (no memory, no time), at the measured size and at the size the paper world uses. The
projection multiplies them by what config/paper.yaml asks for (its recipes: steps x gradient
accumulation of every CelebA LoRA, the classes of every Imagenette LoRA, the epochs, batch and
kept sources of every ARC LoRA; 33 prompts x 20 steps with CFG; 1,172 ARC-C questions) and
converts FLOPs to GPU-hours with a stated GPU, precision and utilisation; on a GPU it also
projects from the measured times. The counted FLOPs are checked against the measured times
(achieved FLOP/s against the device's own matmul rate) and, with --check-flops, against a count
on the real run. Jobs: one LoRA per GPU job (the paper's way, shard_size 1) and shards of as many
SD-1.4 LoRAs as fit one GPU's memory (measured per added LoRA on a GPU; on a CPU estimated from
the activations saved for backward and the LoRA's optimiser state, and said so).

    python benchmarks/paper_cost.py [--quick] [--device cpu|cuda] [--dtype fp32|fp16|bf16]
        [--train-loras 1 2] [--json PATH] [--gpu A100-80GB] [--utilisation 0.35]

--quick: tiny shapes, seconds (what tests/benchmarks/test_paper_cost.py runs); the projection is
then that of tiny bases, only the arithmetic and the job counts mean anything.
The full mode on 2 CPU cores takes about 15-25 minutes and 8 GB of memory (the UNet's
fwd+bwd at 64 x 64 takes tens of seconds there); on one GPU about two minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARC = REPO / "results" / "data" / "arc"  # `lolzoo prepare-arc` of the default world (ARC-C test as the paper's)

# dense TFLOP/s (no sparsity) and memory of GPUs a lab may have, from the vendors' data sheets
GPUS = {
    "A100-80GB": {"fp16": 312.0, "bf16": 312.0, "fp32": 19.5, "memory_gb": 80},
    "H100-SXM": {"fp16": 989.0, "bf16": 989.0, "fp32": 67.0, "memory_gb": 80},
    "H200": {"fp16": 989.0, "bf16": 989.0, "fp32": 67.0, "memory_gb": 141},
    "V100-32GB": {"fp16": 125.0, "bf16": 0.0, "fp32": 15.7, "memory_gb": 32},
}
DTYPES = ("fp32", "fp16", "bf16")  # lolzoo.config.kinds.PRECISIONS, as lolzoo.runtime casts them
TARGETS = ("to_q", "to_v")
LM_TARGETS = ("k_proj", "v_proj")
ALPHA = 27.0  # the paper's lora_alpha of both diffusion zoos
EVAL_CHUNK = 16  # diffusion.evaluate.images_per_call at 512 px: (LoRA, prompt) items per pipeline call
# ARC from the hub (the paper world's hub-arc): ARC-Easy + ARC-Challenge train, 10 % held out
HUB_TRAIN_POOL = 2251 + 1119
QWEN2_TOKENS_PER_WORD = 1.3  # assumption: a 151,646-token byte-level BPE on English exam text

# tiny shapes of the same architectures (--quick)
QUICK_UNET = dict(sample_size=8, block_out_channels=[32, 64, 64, 64], layers_per_block=1, cross_attention_dim=32)
QUICK_VAE = dict(block_out_channels=[32, 32, 32, 32], layers_per_block=1, sample_size=64)
QUICK_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, projection_dim=32)
QUICK_QWEN = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=512)
QUICK_CLIP = dict(embed_dim=32, vision_cfg={"image_size": 32, "patch_size": 16, "width": 64, "layers": 1,
                                             "head_width": 32},
                  text_cfg={"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 1})


# ---- shapes -----------------------------------------------------------------------------------

def sd_configs(quick: bool) -> dict:
    from lolzoo.bases.standins import SD14_TEXT_ENCODER, SD14_UNET, SD14_VAE

    if not quick:
        return {"unet": dict(SD14_UNET), "vae": dict(SD14_VAE), "text": dict(SD14_TEXT_ENCODER)}
    return {"unet": {**SD14_UNET, **QUICK_UNET}, "vae": {**SD14_VAE, **QUICK_VAE},
            "text": {**SD14_TEXT_ENCODER, **QUICK_TEXT}}


def resolution(configs: dict) -> int:
    return configs["unet"]["sample_size"] * 2 ** (len(configs["vae"]["block_out_channels"]) - 1)


def build_pipeline(configs: dict, seed: int = 0):
    """build_sd14's pipeline (seeded components, the project's tokenizer, PNDM) at these configs."""
    from lolzoo.bases.standins import build_sd14

    return build_sd14(seed, configs["unet"], configs["vae"], configs["text"])


def build_clip(quick: bool, seed: int = 0, meta: bool = False):
    import open_clip
    import torch
    from open_clip.model import CLIP

    from lolzoo.bases.standins import OPEN_CLIP_MODEL
    from lolzoo.bases.tiny_sd import seeded

    if meta:  # the architecture alone (open_clip.create_model would move it off the meta device)
        with torch.device("meta"):
            return CLIP(**(QUICK_CLIP if quick else open_clip.get_model_config(OPEN_CLIP_MODEL)), quick_gelu=True)
    with seeded(seed, 1):
        if quick:
            return CLIP(**QUICK_CLIP, quick_gelu=True).eval()
        return open_clip.create_model(OPEN_CLIP_MODEL, pretrained=None, force_quick_gelu=True).eval()


def clip_scorer(model):
    import open_clip

    from lolzoo.bases.loading import OpenClipScorer

    size = model.visual.image_size
    return OpenClipScorer(model, open_clip.get_tokenizer("ViT-B-16"), size[0] if isinstance(size, tuple) else size)


def qwen_config(quick: bool, vocab: int, eos: int):
    from transformers import Qwen2Config

    from lolzoo.bases.standins import QWEN2_1_5B

    spec = {**QWEN2_1_5B, **(QUICK_QWEN | {"vocab_size": vocab} if quick else {})}
    return Qwen2Config(**spec, eos_token_id=eos, bos_token_id=None, pad_token_id=eos)


# ---- measuring --------------------------------------------------------------------------------

def torch_dtype(name: str):
    import torch

    from lolzoo.runtime import weight_dtype

    return weight_dtype(name) or torch.float32


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(device):
    import torch

    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def register_cpu_attention_flops() -> None:
    """FlopCounterMode (torch 2.x) counts the CUDA attention kernels but not the CPU's flash
    attention: give it the same formulas, so a count on a real CPU run is complete."""
    import torch
    from torch.utils.flop_counter import (flop_registry, register_flop_formula, sdpa_backward_flop_count,
                                          sdpa_flop_count)

    aten = torch.ops.aten
    if aten._scaled_dot_product_flash_attention_for_cpu in flop_registry:
        return

    @register_flop_formula(aten._scaled_dot_product_flash_attention_for_cpu, get_raw=True)
    def _forward(query, key, value, *args, out_val=None, **kwargs):
        return sdpa_flop_count(query.shape, key.shape, value.shape)

    @register_flop_formula(aten._scaled_dot_product_flash_attention_for_cpu_backward, get_raw=True)
    def _backward(grad_out, query, key, value, *args, out_val=None, **kwargs):
        return sdpa_backward_flop_count(grad_out.shape, query.shape, key.shape, value.shape)


@contextlib.contextmanager
def memory_efficient_attention():
    """On the meta device, scaled_dot_product_attention takes the math path, which keeps each
    attention matrix for backward (2.7 GB per 512 px sample in SD 1.4's UNet): route it to the
    memory-efficient kernel a GPU run uses, so saved bytes and FLOPs are a GPU's."""
    import torch
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        if query.device.type != "meta" or attn_mask is not None or dropout_p or kwargs:
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, **kwargs)
        return torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, None, query.requires_grad or key.requires_grad or value.requires_grad,
            is_causal=is_causal, scale=scale)[0]

    F.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


class SavedBytes:
    """Bytes of the activations autograd keeps for backward (parameters and their views left
    out, each tensor counted once): the memory a training sample adds, the CPU's estimate."""

    def __init__(self, module):
        self.parameters = {id(p) for p in module.parameters()}
        self.seen, self.bytes = {}, 0

    def pack(self, tensor):
        base = tensor._base if tensor._base is not None else tensor
        if id(base) not in self.parameters and id(base) not in self.seen:
            self.seen[id(base)] = base  # kept alive, so its id is not reused
            self.bytes += base.numel() * base.element_size()
        return tensor

    @staticmethod
    def unpack(tensor):
        return tensor


def meta_unet(configs: dict, dtype):
    import torch
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        return UNet2DConditionModel(**configs["unet"]).to(dtype).requires_grad_(False)


def count_train_step(configs: dict, rank: int, loras: int, dtype) -> dict:
    """FLOPs and saved-activation bytes of one micro-step of `loras` LoRAs (one sample each): the
    UNet forward with the batched LoRAs hooked in, the MSE, and its backward, on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lolzoo.diffusion.batched_lora import BatchedLora, LoraShape

    unet = meta_unet(configs, dtype)
    shard = BatchedLora.attach(unet, TARGETS, [LoraShape(rank, ALPHA)] * loras)
    shard.router.index = torch.arange(loras, device="meta")
    size, channels = configs["unet"]["sample_size"], configs["unet"]["in_channels"]
    latents = torch.empty(loras, channels, size, size, device="meta", dtype=dtype)
    states = torch.empty(loras, 77, configs["unet"]["cross_attention_dim"], device="meta", dtype=dtype)
    steps = torch.zeros(loras, dtype=torch.long, device="meta")
    saved = SavedBytes(unet)
    with FlopCounterMode(display=False) as counter, memory_efficient_attention():
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
            prediction = unet(latents, steps, states).sample
        (prediction.float() - latents.float()).pow(2).mean().backward()
    factors = sum(p.numel() for p in shard.factors())
    return {"flops": counter.get_total_flops(), "saved_bytes": saved.bytes,
            "lora_state_bytes": factors * 4 * 4 // loras,  # float32 factors, grads, AdamW's two moments
            "unet_bytes": sum(p.numel() * p.element_size() for p in unet.parameters())}


def count_denoise_step(configs: dict, items: int, dtype) -> int:
    """FLOPs of one classifier-free-guidance step of `items` (LoRA, prompt) samples: the UNet at batch 2 x items."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    unet = meta_unet(configs, dtype)
    size, channels = configs["unet"]["sample_size"], configs["unet"]["in_channels"]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        unet(torch.empty(2 * items, channels, size, size, device="meta", dtype=dtype),
             torch.zeros(2 * items, dtype=torch.long, device="meta"),
             torch.empty(2 * items, 77, configs["unet"]["cross_attention_dim"], device="meta", dtype=dtype))
    return counter.get_total_flops()


def count_vae(configs: dict, images: int, dtype, decode: bool) -> int:
    import torch
    from diffusers import AutoencoderKL
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        vae = AutoencoderKL(**configs["vae"]).to(dtype)
    size = configs["unet"]["sample_size"]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        if decode:
            vae.decode(torch.empty(images, 4, size, size, device="meta", dtype=dtype))
        else:
            vae.encode(torch.empty(images, 3, resolution(configs), resolution(configs), device="meta", dtype=dtype))
    return counter.get_total_flops()


def count_clip(quick: bool, images: int) -> int:
    """CLIP scoring of `images` images and as many prompts (float32, at the model's input size)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = build_clip(quick, meta=True)
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple) else size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.encode_image(torch.empty(images, 3, size, size, device="meta"), normalize=True)
        model.encode_text(torch.zeros(images, 77, dtype=torch.long, device="meta"), normalize=True)
    return counter.get_total_flops()


class StepClock:
    """A progress bar for finetune_shard: times each micro-step and, on a GPU, resets the peak
    memory after the first, so the peak is that of the training steps (not of the VAE encoding)."""

    def __init__(self, device):
        self.device, self.updates = device, 0

    def update(self, _):
        self.updates += 1
        if self.updates == 1:
            reset_peak(self.device)

    def set_postfix(self, **_):
        pass


def measure_train(pipeline, configs, rank: int, loras: int, steps: int, device, count_flops: bool) -> dict:
    """finetune_shard with `loras` LoRAs for `steps` micro-steps: the median step after the first."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.job import TrainingSettings

    size = resolution(configs)
    generator = torch.Generator().manual_seed(rank * 100 + loras)
    images = [torch.rand(1, 3, size, size, generator=generator) * 2 - 1 for _ in range(loras)]
    settings = [TrainingSettings(lora_id=f"bench-{k}", seed=k, rank=rank, alpha=ALPHA, target_modules=TARGETS,
                                 learning_rate=1e-4, max_train_steps=steps, gradient_accumulation_steps=1,
                                 train_batch_size=1, instance_prompt="sks") for k in range(loras)]
    images = [x.to(pipeline.vae.dtype) for x in images]
    clock = StepClock(device)
    counter = FlopCounterMode(display=False) if count_flops else contextlib.nullcontext()
    with counter:
        result = finetune_shard(pipeline, images, settings, device, progress=clock)
    seconds = result.seconds_per_micro_step
    timed = seconds[1:] or seconds
    row = {"seconds": statistics.median(timed), "first_step_s": seconds[0], "peak_bytes": peak_bytes(device),
           "loras": [r.lora for r in result.results]}
    if count_flops:
        row["counted_flops"] = counter.get_total_flops()
    return row


def measure_generate(pipeline, loras, items_per_lora: int, steps: int, device) -> dict:
    """evaluate.generate of len(loras) LoRAs x items_per_lora prompts for `steps` steps, timed
    between the scheduler's steps (one denoising step of the batch) and after the last (VAE decode)."""
    from lolzoo.diffusion.evaluate import generate, load_shard
    from lolzoo.diffusion.job import EvaluationSettings

    prompts = tuple(prompt_texts()[:items_per_lora])
    names = [f"bench-{k}" for k in range(len(loras))]
    started = time.perf_counter()
    shard = load_shard(pipeline, loras, names)
    sync(device)
    load_s = time.perf_counter() - started
    marks = []
    scheduler = pipeline.scheduler
    original = scheduler.step

    def step(*args, **kwargs):
        out = original(*args, **kwargs)
        sync(device)
        marks.append(time.perf_counter())
        return out

    scheduler.step = step
    try:
        started = time.perf_counter()
        images = generate(pipeline, shard, EvaluationSettings(prompts=prompts, steps=steps, seed=42, guidance_scale=7.5),
                          images_per_batch=EVAL_CHUNK)
        finished = time.perf_counter()
    finally:
        del scheduler.step
        shard.detach()
    steps_s = [b - a for a, b in zip(marks, marks[1:])] or [marks[0] - started]
    return {"items": len(loras) * len(prompts), "denoise_s": statistics.median(steps_s),
            "decode_s": finished - marks[-1], "first_step_s": marks[0] - started, "load_shard_s": load_s,
            "images": images}


def measure_clip(scorer, images, device) -> dict:
    from lolzoo.diffusion.evaluate import image_clip_scores

    prompts = list(prompt_texts()[:images.shape[1]])
    scorer.to(device)
    image_clip_scores(scorer, images[:, :1], prompts[:1])  # warm-up
    sync(device)
    started = time.perf_counter()
    image_clip_scores(scorer, images, prompts, images_per_batch=EVAL_CHUNK)
    sync(device)
    return {"seconds": time.perf_counter() - started, "images": int(images.shape[1])}


def prompt_texts() -> list[str]:
    from lolzoo.config import load_config

    prompts = load_config(REPO / "config" / "paper.yaml", REPO)["zoos"]["celeba"]["evaluation"]["prompts"]
    return list(prompts) * 4  # enough for a chunk of 64 items from one LoRA


def matmul_rate(device, dtype, size: int) -> float:
    """FLOP/s of a square matmul on this device: the yardstick of the FLOP counts."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    a @ a
    sync(device)
    repeats, started = 0, time.perf_counter()
    while time.perf_counter() - started < 1.0:
        a @ a
        repeats += 1
        sync(device)
    return 2 * size ** 3 * repeats / (time.perf_counter() - started)


# ---- ARC questions and the language pieces ------------------------------------------------------

def arc_splits(folder: Path | None, quick: bool) -> dict:
    from lolzoo.data.arc_questions import ArcQuestion, read_split

    if folder is not None and (folder / "test.jsonl").is_file():
        return {split: read_split(folder, split) for split in ("train", "validation", "test")}
    if not quick:
        raise SystemExit(f"{folder}: no prepared ARC folder; write one with `lolzoo prepare-arc` (or run the "
                         "default world) or pass --arc DIR")
    import random

    rng = random.Random(0)
    words = "which of the following best explains why a plant needs light water energy heat".split()
    sources = ["Mercury", "MCAS", "NYSEDREGENTS", "TIMSS", "ACTAAP"]

    def question(i):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 40)))
        choices = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(4)]
        return ArcQuestion(f"{sources[i % 5]}_{i}", sources[i % 5], text, tuple(choices), tuple("ABCD"), i % 4)

    return {"train": [question(i) for i in range(300)], "validation": [question(i) for i in range(300, 340)],
            "test": [question(i) for i in range(340, 460)]}


def arc_token_model(splits: dict, tokenizer, max_length: int) -> dict:
    """Everything the language projection needs about ARC as the project encodes it: per-source
    training tokens, the padding factor of each batch size, the scoring tokens of the evaluation."""
    import numpy as np

    from lolzoo.data.arc_questions import continuation, prompt
    from lolzoo.language.encoding import encode
    from lolzoo.language.evaluate import by_length

    encoded = {split: encode(tokenizer, questions, max_length) for split, questions in splits.items()}
    lengths = np.array([len(q.prompt) + len(q.correct) for q in encoded["train"]])
    words = sum(len(prompt(q).split()) + len(continuation(q.choices[q.answer]).split()) for q in splits["train"])
    per_word = lengths.sum() / words
    sources = {}
    for question, length in zip(splits["train"], lengths):
        sources[question.source] = sources.get(question.source, 0) + int(length)
    rng = np.random.default_rng(0)
    padding = {}
    for batch in (32, 64, 128):  # padded / real tokens of finetune.train_lora's micro-batches (32 rows)
        order, padded = rng.permutation(len(lengths)), 0
        for start in range(0, len(order), batch):
            part = np.sort(lengths[order[start:start + batch]])[::-1]
            padded += sum(len(part[i:i + 32]) * part[i] for i in range(0, len(part), 32))
        padding[batch] = padded / lengths.sum()

    def padded(questions, length, batch=16):
        return sum(len(rows) * max(length(questions[i]) for i in rows) for rows in by_length(questions, batch, length))

    test_tokens = padded(encoded["test"], lambda q: len(q.prompt) + sum(map(len, q.choices)))
    val_tokens = padded(encoded["validation"], lambda q: len(q.prompt) + len(q.correct))
    return {"encoded": encoded, "source_tokens": sources, "train_questions": len(lengths),
            "tokens_per_word": float(per_word), "padding": padding,
            "test_tokens": test_tokens, "validation_tokens": val_tokens,
            "test_questions": len(encoded["test"]), "validation_questions": len(encoded["validation"])}


def count_lm(model_config, rows: int, width: int, scored: int, train: bool) -> int:
    """FLOPs of token_log_probs on a (rows, width) batch scoring `scored` positions, with a rank-4
    k/v LoRA, forward (+ backward when train) on the meta device."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import Qwen2ForCausalLM

    from lolzoo.language.log_probs import token_log_probs

    with torch.device("meta"):
        model = get_peft_model(Qwen2ForCausalLM(model_config),
                               LoraConfig(r=4, lora_alpha=8, target_modules=list(LM_TARGETS), task_type="CAUSAL_LM"))
    ids = torch.zeros(rows, width, dtype=torch.long, device="meta")
    mask = None  # causal only: the same FLOPs as a padding or 4-D mask (which meta tensors cannot inspect)
    index = torch.zeros(scored, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter, torch.set_grad_enabled(train):
        out = token_log_probs(model, ids, mask, None, index, index, index)
        if train:
            out.sum().backward()
    return counter.get_total_flops()


# ---- LoL --------------------------------------------------------------------------------------

def sd_lora_shapes(configs: dict) -> list[tuple[int, int]]:
    from lolzoo.diffusion.batched_lora import target_paths

    unet = meta_unet(configs, __import__("torch").float32)
    layers = dict(unet.named_modules())
    return [(layers[p].out_features, layers[p].in_features) for p in target_paths(unet, TARGETS)]


def measure_lol_epoch(kind: str, shapes, rank: int, loras: int, device) -> dict:
    """One epoch of lol.train's loop (the clip-score preset: batch 8, AdamW lr 1e-3) over `loras`
    random LoRAs of these shapes, preprocessing (fitted and cached) timed apart."""
    import numpy as np
    import torch

    from lolzoo.lol.base import LoraBatch
    from lolzoo.lol.registry import build_model
    from lolzoo.lol.tasks import fit_task
    from lolzoo.lol.train import PAPER_PRESETS, TrainSettings, _FeatureSource, _train

    generator = torch.Generator().manual_seed(0)
    batch = LoraBatch([torch.randn(loras, n, rank, generator=generator) / n ** 0.5 for n, _ in shapes],
                      [torch.randn(loras, m, rank, generator=generator) / m ** 0.5 for _, m in shapes]).to(device)
    labels = np.random.default_rng(0).normal(size=(loras, 1))
    task = fit_task("regression", ["clip_score"], labels)
    torch.manual_seed(0)
    model = build_model(kind, shapes, rank, 1).to(device)
    started = time.perf_counter()
    model.fit_preprocessing(batch)
    train, val = _FeatureSource(model, batch), _FeatureSource(model, batch.take(slice(0, 8)))
    sync(device)
    preprocess_s = time.perf_counter() - started
    settings = TrainSettings(**{**PAPER_PRESETS["clip-score"], "epochs": 1})
    targets = task.encode(labels).to(device)
    started = time.perf_counter()
    _train(model, task, settings, 0, train, val, targets, targets[:8])
    sync(device)
    return {"epoch_s": time.perf_counter() - started, "preprocess_s": preprocess_s, "loras": loras,
            "parameters": sum(p.numel() for p in model.parameters())}


# ---- base loading -------------------------------------------------------------------------------

def save_and_time_load(kind: str, model, folder: Path, device, dtype, tokenizer=None):
    """Write a built base as the paper world's fetch-base would place it, drop it, and time the
    project's loader reading it back onto the device: (loaded model, seconds, bytes on disk)."""
    from lolzoo.bases import loading

    if kind == "sd":
        model.save_pretrained(str(folder), safe_serialization=True)
        (folder / loading.CARD_FILE).write_text(json.dumps({"kind": "pretrained", "role": "sd", "name": "stand-in"}))
    elif kind == "lm":
        model.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))
    else:
        from safetensors.torch import save_file

        folder.mkdir(parents=True)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                  str(folder / "open_clip_model.safetensors"))
        (folder / loading.CARD_FILE).write_text(json.dumps({
            "kind": "pretrained", "role": "clip", "name": "ViT-B-16/openai",
            "open_clip": {"model": "ViT-B-16", "weights": "open_clip_model.safetensors", "quick_gelu": True}}))
    del model
    gc.collect()
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    started = time.perf_counter()
    if kind == "sd":
        loaded = loading.load_sd_pipeline(folder).to(device, dtype)
    elif kind == "lm":
        loaded, tokenizer = loading.load_causal_lm(folder)
        loaded = loaded.to(device, dtype)
    else:
        loaded = loading.load_clip_scorer(folder).to(device)
    sync(device)
    return loaded, time.perf_counter() - started, size


def import_seconds() -> float:
    """A fresh interpreter importing what a finetuning job imports: the start-up of every job."""
    code = "import torch, diffusers, transformers, peft, open_clip, lolzoo.diffusion.finetune, lolzoo.language.finetune"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    return time.perf_counter() - started


# ---- the paper world's workload -----------------------------------------------------------------

def paper_workload(lora_per_job_shard: int | None = None, lm_shard: int = 1) -> dict:
    """What config/paper.yaml asks for, from its recipes and plan (lolzoo.recipes.plan)."""
    import copy

    from lolzoo.config import load_config
    from lolzoo.data.arc_questions import MERCURY
    from lolzoo.recipes import plan

    config = load_config(REPO / "config" / "paper.yaml", REPO)
    recipes = plan.recipes_by_id(config)
    zoos = {}
    for zoo, rows in recipes.items():
        spec = config["zoos"][zoo]
        rows = list(rows.values())
        entry = {"type": spec["type"], "count": spec["count"], "rank": spec["lora"]["rank"],
                 "shard_size": spec["shard_size"], "finetune_jobs": len(plan.shards(config, zoo)),
                 "data_jobs": len(plan.data_shards(config, zoo)) if spec["type"] != "arc-sources" else 0,
                 "retest_loras": len(plan.reliability_sample(config, zoo)),
                 "retest_jobs": len(plan.reliability_shards(config, zoo))}
        if spec["type"] == "arc-sources":
            entry["recipes"] = [{"epochs": r["num_epochs"], "batch": r["batch_size"],
                                 "dropped": set(filter(None, r["dropped_sources"].split("|")))} for r in rows]
            entry["never_drop"] = MERCURY
        else:
            entry["micro_steps"] = [r["max_train_steps"] * r.get("gradient_accumulation_steps", 1) for r in rows]
            entry["images"] = [r.get("images") or r["num_classes"] * r["images_per_class"] for r in rows]
            entry["prompts"] = len(spec["evaluation"]["prompts"])
            entry["denoise_steps"] = spec["evaluation"]["steps"]
            hp = spec["hparams"]
            choices = lambda key: hp[key]["choice"] if isinstance(hp.get(key), dict) else [hp.get(key, 1)]
            entry["expected_micro_steps"] = statistics.mean(choices("max_train_steps")) * statistics.mean(
                choices("gradient_accumulation_steps"))
        zoos[zoo] = entry
    fits = sum(len(plan.compared_dirs(config, zoo)) for zoo in plan.lol_zoos(config))
    workload = {"zoos": zoos, "fit_jobs": fits, "lol_seeds": len(config["lol"]["seeds"]),
                "lol_models": list(config["lol"]["models"]),
                "validation_fraction": config["data"]["arc"]["validation_fraction"]}
    if lora_per_job_shard is not None:  # the same world with K LoRAs per diffusion job, lm_shard per language job
        batched = copy.deepcopy(config)
        for zoo, spec in batched["zoos"].items():
            spec["shard_size"] = lm_shard if spec["type"] == "arc-sources" else lora_per_job_shard
        workload["batched_jobs"] = {zoo: {"finetune_jobs": len(plan.shards(batched, zoo)),
                                          "retest_jobs": len(plan.reliability_shards(batched, zoo))}
                                    for zoo in zoos}
    return workload


# ---- the run --------------------------------------------------------------------------------------

def run(args) -> dict:
    import torch

    from lolzoo.runtime import quiet_library_progress

    quiet_library_progress()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype_name = args.dtype or ("fp16" if device.type == "cuda" else "fp32")
    dtype = torch_dtype(dtype_name)
    quick, gpu = args.quick, device.type == "cuda"
    register_cpu_attention_flops()
    configs = sd_configs(quick)
    train_loras = args.train_loras or ([1, 4, 16] if gpu else [1, 2])
    steps = args.steps or (4 if gpu else 2)
    eval_items = args.eval_items or (EVAL_CHUNK if gpu else 4 if quick else 1)
    lm_rows = args.lm_rows or (32 if gpu else 4)
    lol_loras = args.lol_loras or (256 if gpu else 16 if quick else 32)
    out = {"device": str(device), "device_name": torch.cuda.get_device_name(device) if gpu else cpu_name(),
           "dtype": dtype_name, "quick": quick, "threads": torch.get_num_threads(), "pieces": {}, "notes": []}
    pieces = out["pieces"]
    clock = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - clock:6.1f} s] {message}", file=sys.stderr, flush=True)

    out["matmul_flops_per_s"] = matmul_rate(device, dtype, 256 if quick else 2048)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out["import_s"] = import_seconds()
        # ---- diffusion
        log("building the SD pipeline ...")
        started = time.perf_counter()
        pipeline = build_pipeline(configs)
        out["sd_build_s"] = time.perf_counter() - started
        pipeline, load_s, size = save_and_time_load("sd", pipeline, tmp / "sd", device, dtype)
        pieces["sd-load"] = {"seconds": load_s, "disk_bytes": size}
        pipeline.set_progress_bar_config(disable=True)
        trained = None
        for rank in (4, 32):
            for loras in train_loras:
                log(f"sd-train rank {rank}, {loras} LoRA(s) ...")
                count = args.check_flops and loras == train_loras[0]
                row = measure_train(pipeline, configs, rank, loras, steps, device, count)
                row.update(count_train_step(configs, rank, loras, dtype))
                if count:  # what the meta counts predict for the whole run: encode, steps
                    row["predicted_flops"] = (steps * row["flops"] + count_vae(configs, loras, dtype, False)
                                              + count_text(configs, 1, dtype))
                trained = trained or row.pop("loras")
                row.pop("loras", None)
                pieces[f"sd-train r{rank} x{loras}"] = {**row, "rank": rank, "batch": loras}
                gc.collect()
        log(f"sd-denoise, {eval_items} item(s) ...")
        lora_count = max(1, math.ceil(eval_items / len(prompt_texts()[:33])))
        per_lora = math.ceil(eval_items / lora_count)
        loras = (trained * lora_count)[:lora_count]
        generated = measure_generate(pipeline, loras, per_lora, args.denoise_steps or (4 if gpu else 2), device)
        items = generated["items"]
        pieces["sd-denoise"] = {"seconds": generated["denoise_s"], "batch": items,
                                "flops": count_denoise_step(configs, items, dtype)}
        pieces["vae-decode"] = {"seconds": generated["decode_s"], "batch": items,
                                "flops": count_vae(configs, items, dtype, True)}
        pieces["load-shard"] = {"seconds": generated["load_shard_s"], "batch": len(loras)}
        images = generated.pop("images")
        del pipeline, trained
        gc.collect()
        if gpu:
            torch.cuda.empty_cache()
        # ---- CLIP
        log("clip-score ...")
        clip = clip_scorer(build_clip(quick))
        if not quick:
            clip, load_s, size = save_and_time_load("clip", clip.model, tmp / "clip", torch.device("cpu"), None)
            pieces["clip-load"] = {"seconds": load_s, "disk_bytes": size}
        for where in ([device, torch.device("cpu")] if gpu else [device]):
            batch = images[:, :EVAL_CHUNK] if where.type == "cuda" else images[:, :min(8, images.shape[1])]
            row = measure_clip(clip, batch, where)
            pieces[f"clip-score {where.type}"] = {"seconds": row["seconds"], "batch": row["images"],
                                                  "flops": count_clip(quick, row["images"])}
        del clip, images
        gc.collect()
        # ---- language
        log("Qwen2 ...")
        lm = measure_language(args, quick, device, dtype, lm_rows, tmp, out)
        pieces.update(lm.pop("pieces"))
        out["arc"] = lm
    # ---- LoL
    shapes = sd_lora_shapes(configs)
    for kind in args.lol_models:
        for rank in (4, 32):
            log(f"lol-epoch {kind} rank {rank} ...")
            row = measure_lol_epoch(kind, shapes, rank, lol_loras, device)
            pieces[f"lol-epoch {kind} r{rank}"] = {"seconds": row["epoch_s"], "batch": row["loras"],
                                                   "preprocess_s": row["preprocess_s"], "parameters": row["parameters"]}
    # paper-sized FLOP counts of the pieces measured smaller
    out["paper_flops"] = {"sd-denoise": count_denoise_step(configs, EVAL_CHUNK, dtype) / EVAL_CHUNK,
                          "vae-decode": count_vae(configs, 1, dtype, True),
                          "vae-encode": count_vae(configs, 1, dtype, False),
                          "clip-score": count_clip(quick, EVAL_CHUNK) / EVAL_CHUNK}
    return out


def count_text(configs: dict, prompts: int, dtype) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        model = CLIPTextModel(CLIPTextConfig(**configs["text"])).to(dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(prompts, 77, dtype=torch.long, device="meta"))
    return counter.get_total_flops()


def measure_language(args, quick: bool, device, dtype, rows: int, tmp: Path, out: dict) -> dict:
    import torch
    from transformers import Qwen2ForCausalLM

    from lolzoo.bases.tiny_qwen2 import train_tokenizer
    from lolzoo.bases.tiny_sd import seeded
    from lolzoo.data.arc_questions import continuation, prompt
    from lolzoo.language.encoding import training_batch
    from lolzoo.language.evaluate import Scorer
    from lolzoo.language.finetune import train_lora
    from lolzoo.language.job import DEFAULT_MAX_LENGTH, LanguageTraining

    splits = arc_splits(None if quick else args.arc, quick)  # quick: tiny synthetic questions
    texts = [prompt(q) + continuation(c) for q in splits["train"] for c in q.choices]
    from lolzoo.bases import standins

    # build_qwen2_1_5b's tokenizer: the stand-in's own (a 32,000-token BPE on ARC's questions; quick: 1,024)
    tokenizer = train_tokenizer(texts) if quick else train_tokenizer(texts, getattr(standins, "LM_TOKENIZER_VOCAB", 32_000))
    model_config = qwen_config(quick, len(tokenizer), tokenizer.eos_token_id)
    tokens = arc_token_model(splits, tokenizer, DEFAULT_MAX_LENGTH)
    encoded = tokens.pop("encoded")
    started = time.perf_counter()
    with seeded(0, 1):
        model = Qwen2ForCausalLM(model_config).eval()
    out["lm_build_s"] = time.perf_counter() - started
    model, load_s, size = save_and_time_load("lm", model, tmp / "lm", device, dtype, tokenizer)
    pieces = {"lm-load": {"seconds": load_s, "disk_bytes": size}}
    # a training step of `rows` questions (micro-batches of up to 32): the second of two
    rng = __import__("random").Random(0)
    questions = rng.sample(encoded["train"], 2 * rows)
    settings = LanguageTraining(lora_id="bench", seed=0, rank=4, alpha=8.0, target_modules=LM_TARGETS, dora=False,
                                learning_rate=1e-4, weight_decay=1e-2, num_epochs=1, batch_size=rows,
                                lora_dropout=0.05, dropped_sources=frozenset())
    marks = []
    started = time.perf_counter()
    reset_peak(device)
    trained = train_lora(model, questions, settings, tokenizer.pad_token_id, 32, device,
                         on_step=lambda: (sync(device), marks.append(time.perf_counter())))
    step_s = marks[1] - marks[0]
    second = sorted(questions[rows:], key=lambda q: -(len(q.prompt) + len(q.correct)))  # not the same order as
    padded = sum(training_batch(second[i:i + 32], 0)["input_ids"].numel() for i in range(0, rows, 32))  # its batch:
    answer = sum(len(q.correct) for q in second)  # an estimate of the second step's tokens, from its questions
    width = max(len(q.prompt) + len(q.correct) for q in second)
    pieces["lm-train"] = {"seconds": step_s, "batch": rows, "tokens": padded, "peak_bytes": peak_bytes(device),
                          "flops": count_lm(model_config, rows, math.ceil(padded / rows), answer, True),
                          "flops_width": width}
    # scoring: one ARC-C batch and one validation batch of `rows` questions, with the LoRA in
    test, validation = rng.sample(encoded["test"], rows), rng.sample(encoded["validation"], rows)
    scorer = Scorer(validation, test, tokenizer.pad_token_id, rows, device)
    peft_model = trained.model
    scorer.choice_log_likelihoods(peft_model)  # warm-up
    sync(device)
    started = time.perf_counter()
    scorer.choice_log_likelihoods(peft_model)
    sync(device)
    test_s = time.perf_counter() - started
    started = time.perf_counter()
    scorer.validation_loss(peft_model)
    sync(device)
    val_s = time.perf_counter() - started
    test_ids = scorer.test_batches[0][0][0]
    val_ids = scorer.validation_batches[0][0]
    pieces["lm-score test"] = {"seconds": test_s, "batch": rows, "tokens": test_ids.numel(),
                               "flops": count_lm(model_config, *test_ids.shape, len(scorer.test_batches[0][0][5]),
                                                 False)}
    pieces["lm-score val"] = {"seconds": val_s, "batch": rows, "tokens": val_ids.numel(),
                              "flops": count_lm(model_config, *val_ids.shape, len(scorer.validation_batches[0][5]),
                                                False)}
    del model, trained, peft_model, scorer
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"pieces": pieces, **tokens, "vocab": len(tokenizer)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return f"CPU ({os.cpu_count()} CPUs)"


# ---- the projection -----------------------------------------------------------------------------

def lm_tokens(workload: dict, arc: dict, scale: float, correction: float) -> tuple[list[float], float]:
    """Padded training tokens of every ARC LoRA (its epochs x its kept sources' tokens x the padding
    of its batch size), and the tokens of one evaluation (ARC-C test + the validation loss)."""
    zoo = next(z for z in workload["zoos"].values() if z["type"] == "arc-sources")
    sources = arc["source_tokens"]
    train = []
    for recipe in zoo["recipes"]:
        kept = sum(t for s, t in sources.items() if s not in recipe["dropped"])
        train.append(recipe["epochs"] * kept * scale * arc["padding"][recipe["batch"]] * correction)
    hub_validation = HUB_TRAIN_POOL * workload["validation_fraction"]
    evaluation = (arc["test_tokens"] * 1172 / arc["test_questions"]
                  + arc["validation_tokens"] * hub_validation / arc["validation_questions"]) * correction
    return train, evaluation


def train_memory(out: dict, rank: int, gpu_bytes: float, gpu_element: int) -> dict:
    """Memory of a training shard: the fixed part and what each added LoRA adds, measured on a GPU
    (slope of the steps' peak between the two largest shards) or estimated on a CPU (activations
    saved for backward + the LoRA's float32 state, at the GPU's precision)."""
    rows = sorted((p for k, p in out["pieces"].items() if k.startswith(f"sd-train r{rank} ")), key=lambda p: p["batch"])
    element = {"fp32": 4, "fp16": 2, "bf16": 2}[out["dtype"]]
    if rows[-1].get("peak_bytes") and len(rows) > 1:
        a, b = rows[-2], rows[-1]
        per_lora = (b["peak_bytes"] - a["peak_bytes"]) / (b["batch"] - a["batch"])
        fixed = a["peak_bytes"] - per_lora * a["batch"]
        how = f"measured (peak of the training steps, {a['batch']} and {b['batch']} LoRAs, {out['dtype']})"
    else:
        last = rows[-1]
        per_lora = last["saved_bytes"] / last["batch"] * gpu_element / element + last["lora_state_bytes"]
        fixed = last["unet_bytes"] * gpu_element / element * 1.25  # + VAE and text encoder (a quarter of the UNet)
        how = "estimated (activations saved for backward + LoRA state; no workspace or fragmentation)"
    fits = max(1, int((0.9 * gpu_bytes - fixed) // per_lora)) if per_lora > 0 else 1
    return {"fixed_bytes": fixed, "per_lora_bytes": per_lora, "fit": fits, "how": how}


def project(out: dict, workload: dict, args) -> dict:
    gpu = GPUS[args.gpu]
    peak = gpu[args.gpu_dtype] * 1e12 * args.utilisation
    element = 4 if args.gpu_dtype == "fp32" else 2
    pieces, paper = out["pieces"], out["paper_flops"]
    on_gpu = out["device"].startswith("cuda")
    memory = {rank: train_memory(out, rank, gpu["memory_gb"] * 1e9, element) for rank in (4, 32)}
    shard = min(memory[r]["fit"] for r in (4, 32)) if args.shard is None else args.shard
    shard = max(1, min(shard, args.max_shard))
    workload_b = paper_workload(shard, args.lm_shard)
    jobs_b = workload_b["batched_jobs"]
    overhead = {"sd": out["import_s"] + pieces["sd-load"]["seconds"],
                "sd-eval": out["import_s"] + pieces["sd-load"]["seconds"] + pieces.get("clip-load", {}).get("seconds", 0)
                + pieces["load-shard"]["seconds"],
                "lm": out["import_s"] + pieces["lm-load"]["seconds"]}
    # load_shard's two probe forwards are compute: tens of seconds on a CPU, milliseconds on a GPU.
    # GPU-hours count them only where they were measured on one.
    gpu_overhead = dict(overhead, **({} if on_gpu else {"sd-eval": overhead["sd-eval"] - pieces["load-shard"]["seconds"]}))

    def per_item(name):
        p = pieces[name]
        return p["seconds"] / p["batch"]

    train_rows = {rank: sorted((p for k, p in pieces.items() if k.startswith(f"sd-train r{rank} ")),
                               key=lambda p: p["batch"]) for rank in (4, 32)}
    clip_key = "clip-score cpu" if "clip-score cpu" in pieces else next(k for k in pieces if k.startswith("clip-score"))
    rate_of = lambda p: p["flops"] / p["seconds"]  # achieved FLOP/s on this device
    rows = []
    arc = out["arc"]
    scale = HUB_TRAIN_POOL * (1 - workload["validation_fraction"]) / arc["train_questions"]
    correction = QWEN2_TOKENS_PER_WORD / arc["tokens_per_word"]
    lm_train_tokens, lm_eval_tokens = lm_tokens(workload, arc, scale, correction)
    lm_train, lm_test, lm_val = pieces["lm-train"], pieces["lm-score test"], pieces["lm-score val"]
    lm_eval_flops_per_token = (lm_test["flops"] + lm_val["flops"]) / (lm_test["tokens"] + lm_val["tokens"])
    lm_eval_s_per_token = (lm_test["seconds"] + lm_val["seconds"]) / (lm_test["tokens"] + lm_val["tokens"])
    for name, zoo in workload["zoos"].items():
        batched = jobs_b[name]
        if zoo["type"] == "arc-sources":
            flops_train = sum(lm_train_tokens) * lm_train["flops"] / lm_train["tokens"]
            seconds_train = sum(lm_train_tokens) * lm_train["seconds"] / lm_train["tokens"]
            eval_flops_lora = lm_eval_tokens * lm_eval_flops_per_token  # lm_eval_tokens: one LoRA's
            eval_seconds_lora = lm_eval_tokens * lm_eval_s_per_token
            units = f"{sum(lm_train_tokens) / zoo['count'] / 1e6:.2f} M tokens/LoRA"
            kind = "lm"
            batched_train = seconds_train
        else:
            micro = sum(zoo["micro_steps"])
            first = train_rows[zoo["rank"]][0]
            best = min(train_rows[zoo["rank"]], key=lambda p: p["seconds"] / p["batch"])
            encode = sum(zoo["images"]) * paper["vae-encode"]
            flops_train = micro * first["flops"] / first["batch"] + encode
            encode_s = encode / rate_of(pieces["vae-decode"])
            seconds_train = micro * first["seconds"] / first["batch"] + encode_s
            batched_train = micro * best["seconds"] / best["batch"] + encode_s
            images = zoo["prompts"]
            eval_flops_lora = images * (zoo["denoise_steps"] * paper["sd-denoise"] + paper["vae-decode"]
                                        + paper["clip-score"])
            eval_seconds_lora = images * (zoo["denoise_steps"] * per_item("sd-denoise") + per_item("vae-decode")
                                          + per_item(clip_key))
            units = f"{micro / zoo['count']:.1f} micro-steps/LoRA"
            kind = "sd"
        # every LoRA is evaluated once, and the reliability sample once more
        flops_eval, seconds_eval = eval_flops_lora * zoo["count"], eval_seconds_lora * zoo["count"]
        retest_flops, retest_seconds = eval_flops_lora * zoo["retest_loras"], eval_seconds_lora * zoo["retest_loras"]
        for stage, flops, seconds, seconds_b, count, jobs, jobs_batched, job_kind in (
                ("finetune", flops_train, seconds_train, batched_train, zoo["count"], zoo["finetune_jobs"],
                 batched["finetune_jobs"], kind),
                ("evaluate", flops_eval, seconds_eval, seconds_eval, zoo["count"], zoo["finetune_jobs"],
                 batched["finetune_jobs"], "sd-eval" if kind == "sd" else "lm"),
                ("retest", retest_flops, retest_seconds, retest_seconds, zoo["retest_loras"], zoo["retest_jobs"], batched["retest_jobs"], "sd-eval" if kind == "sd" else "lm")):
            compute_h = flops / peak / 3600
            rows.append({"zoo": name, "stage": stage, "loras": count, "units": units if stage == "finetune" else
                         (f"{zoo['prompts']} prompts x {zoo['denoise_steps']} steps, CFG" if kind == "sd" else
                          f"{lm_eval_tokens / 1e3:.0f} k tokens/LoRA"),
                         "flops": flops, "jobs": jobs, "jobs_batched": jobs_batched,
                         "gpu_hours": compute_h + jobs * gpu_overhead[job_kind] / 3600,
                         "gpu_hours_batched": compute_h + jobs_batched * gpu_overhead[job_kind] / 3600,
                         "device_hours": (seconds + jobs * overhead[job_kind]) / 3600,
                         "device_hours_batched": (seconds_b + jobs_batched * overhead[job_kind]) / 3600})
    totals = {key: sum(r[key] for r in rows) for key in ("flops", "jobs", "jobs_batched", "gpu_hours",
                                                         "gpu_hours_batched", "device_hours", "device_hours_batched")}
    data_jobs = sum(z["data_jobs"] for z in workload["zoos"].values())
    fit_jobs = workload["fit_jobs"]
    lol = {}
    for kind in args.lol_models:
        for rank in (4, 32):
            p = pieces.get(f"lol-epoch {kind} r{rank}")
            if p:
                lol[f"{kind} r{rank}"] = p["seconds"] / p["batch"]
    assumptions = {
        "GPU": args.gpu, "precision": args.gpu_dtype, "dense peak TFLOP/s": gpu[args.gpu_dtype],
        "utilisation (share of peak)": args.utilisation, "GPU memory GB": gpu["memory_gb"],
        "memory usable for a shard": "90 %",
        "per-job overhead, SD finetune (s)": overhead["sd"], "per-job overhead, SD evaluate (s)": overhead["sd-eval"],
        "of it in GPU-hours (probe forwards left out unless measured on a GPU)": gpu_overhead["sd-eval"],
        "per-job overhead, Qwen2 job (s)": overhead["lm"],
        "overhead measured on": f"{out['device_name']} (imports + the project's loaders from a warm page cache)",
        "SD LoRAs per batched job": shard, "Qwen2 LoRAs per batched job (trained one after another)": args.lm_shard,
        "ARC train questions (hub, after 10 % held out) / here": f"{HUB_TRAIN_POOL * 0.9:.0f} / {arc['train_questions']}",
        "Qwen2 tokens per word (stand-in BPE measured)": f"{QWEN2_TOKENS_PER_WORD} ({arc['tokens_per_word']:.2f})",
        "VAE encoding time": "its FLOPs at the VAE decode's achieved rate",
        "Slurm queue wait": "not counted",
    }
    return {"rows": rows, "totals": totals, "memory": memory, "shard": shard, "assumptions": assumptions,
            "other_jobs": {"finetune-data (CPU)": data_jobs, "LoL fits incl. reference (fit-cv)": fit_jobs},
            "lol_seconds_per_lora_epoch": lol, "on_gpu": on_gpu}


# ---- printing -----------------------------------------------------------------------------------

def gb(value) -> str:
    return "" if value is None else f"{value / 1e9:.2f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(out: dict, projection: dict) -> str:
    rate = out["matmul_flops_per_s"]
    parts = [f"## Measured on {out['device_name']} ({out['device']}, {out['dtype']}, {out['threads']} threads)"
             + (" — QUICK: tiny shapes" if out["quick"] else ""),
             f"matmul rate of this device: {rate / 1e12:.3f} TFLOP/s; a job's imports: {out['import_s']:.1f} s"]
    rows = []
    for name, p in out["pieces"].items():
        flops, seconds = p.get("flops"), p.get("seconds")
        achieved = flops / seconds if flops and seconds else None
        rows.append([name, p.get("batch", ""), f"{seconds:.3f}" if seconds is not None else "",
                     f"{flops / 1e12:.4f}" if flops else "", f"{achieved / 1e12:.3f}" if achieved else "",
                     f"{achieved / rate:.0%}" if achieved else "", gb(p.get("peak_bytes"))])
    parts.append(table(["piece", "batch", "seconds", "TFLOP", "achieved TFLOP/s", "of matmul rate",
                        "peak GB (GPU)"], rows))
    checks = [[name, f"{p['counted_flops'] / 1e12:.4f}", f"{p['predicted_flops'] / 1e12:.4f}",
               f"{p['counted_flops'] / p['predicted_flops']:.3f}"]
              for name, p in out["pieces"].items() if "counted_flops" in p]
    if checks:
        parts.append("FLOPs counted on the real finetuning run against the meta-device prediction (text encoder, "
                     "VAE encode, every micro-step); flash attention counts its backward's recompute, the meta "
                     "device's math attention does not:")
        parts.append(table(["run", "counted TFLOP", "predicted TFLOP", "ratio"], checks))
    parts.append("## Assumptions of the projection")
    parts.append(table(["assumption", "value"], [[k, f"{v:.3g}" if isinstance(v, float) else v]
                                                   for k, v in projection["assumptions"].items()]))
    parts.append("## Memory of a training shard (SD 1.4, one 512 px sample per LoRA)")
    parts.append(table(["rank", "fixed GB", "per added LoRA GB", "LoRAs per GPU", "how"],
                       [[r, gb(m["fixed_bytes"]), gb(m["per_lora_bytes"]), m["fit"], m["how"]]
                        for r, m in projection["memory"].items()]))
    device = "GPU" if projection["on_gpu"] else "CPU"
    parts.append(f"## The paper world's cost (config/paper.yaml): GPU-hours from FLOPs at the assumed GPU; "
                 f"{device}-hours from the times measured here")
    rows = [[r["zoo"], r["stage"], r["loras"], r["units"], f"{r['flops'] / 1e15:.1f}", r["jobs"],
             f"{r['gpu_hours']:.1f}", f"{r['device_hours']:.1f}", r["jobs_batched"], f"{r['gpu_hours_batched']:.1f}",
             f"{r['device_hours_batched']:.1f}"] for r in projection["rows"]]
    t = projection["totals"]
    rows.append(["**total**", "", "", "", f"{t['flops'] / 1e15:.1f}", t["jobs"], f"{t['gpu_hours']:.1f}",
                 f"{t['device_hours']:.1f}", t["jobs_batched"], f"{t['gpu_hours_batched']:.1f}",
                 f"{t['device_hours_batched']:.1f}"])
    parts.append(table(["zoo", "stage", "LoRAs", "work", "PFLOP", "jobs (1 LoRA/job)", "GPU-h", f"{device}-h",
                        f"jobs (batched)", "GPU-h batched", f"{device}-h batched"], rows))
    parts.append(table(["other jobs", "count"], [[k, v] for k, v in projection["other_jobs"].items()]))
    if projection["lol_seconds_per_lora_epoch"]:
        parts.append(table(["LoL model", f"{device} s per LoRA-epoch (SD-1.4 shapes)"],
                           [[k, f"{v:.4f}"] for k, v in projection["lol_seconds_per_lora_epoch"].items()]))
    if not projection["on_gpu"]:
        parts.append("On a CPU the batched GPU-hours save only the per-job overhead: what batching gains in GPU "
                     "utilisation shows only in a GPU run's measured times; the per-LoRA memory is an estimate.")
    return "\n\n".join(parts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes (seconds): the arithmetic, not the costs")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--dtype", choices=list(DTYPES), help="measurement precision (default fp16 on cuda, fp32 on cpu)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--train-loras", type=int, nargs="+", help="LoRAs per training step (default 1 2; GPU 1 4 16)")
    parser.add_argument("--steps", type=int, help="micro-steps per training measurement (the first is not timed)")
    parser.add_argument("--denoise-steps", type=int, help="denoising steps of the generate measurement")
    parser.add_argument("--eval-items", type=int, help=f"(LoRA, prompt) items of the denoising batch "
                                                       f"(default 1; GPU {EVAL_CHUNK}, the evaluation's)")
    parser.add_argument("--lm-rows", type=int, help="ARC questions per language step and scoring batch (default 4; GPU 32)")
    parser.add_argument("--lol-loras", type=int, help="LoRAs of the LoL epoch (default 32; GPU 256)")
    parser.add_argument("--lol-models", nargs="+", default=["glnet", "mlp"])
    parser.add_argument("--arc", type=Path, default=DEFAULT_ARC, help="a prepared ARC folder (lolzoo prepare-arc)")
    parser.add_argument("--check-flops", action="store_true",
                        help="also count FLOPs on the first real finetuning run and compare with the meta count")
    parser.add_argument("--gpu", choices=sorted(GPUS), default="A100-80GB", help="the GPU of the projection")
    parser.add_argument("--gpu-dtype", choices=list(DTYPES), default="fp16", help="its precision (the paper's: fp16)")
    parser.add_argument("--utilisation", type=float, default=0.35, help="share of the dense peak reached (MFU)")
    parser.add_argument("--shard", type=int, help="SD LoRAs per batched job (default: as many as fit the GPU)")
    parser.add_argument("--max-shard", type=int, default=64, help="at most this many SD LoRAs per batched job")
    parser.add_argument("--lm-shard", type=int, default=20, help="Qwen2 LoRAs per batched job")
    parser.add_argument("--measurements", type=Path, default=None,
                        help="a --json file of an earlier run: project from its measurements, measure nothing")
    parser.add_argument("--json", type=Path, help="write the measurements and the projection here")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.measurements:  # project again (other GPU, precision, utilisation) without measuring
        out = json.loads(args.measurements.read_text())["measurements"]
        out["arc"]["padding"] = {int(batch): factor for batch, factor in out["arc"]["padding"].items()}  # JSON keys
    else:
        out = run(args)
        out["wall_s"] = time.perf_counter() - started
    projection = project(out, paper_workload(), args)
    print(report(out, projection))
    print(f"\n(measured in {out['wall_s']:.0f} s)")
    result = {"measurements": out, "projection": projection}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
