"""`lolzoo pretrain-base --kind {tiny-sd,tiny-clip,tiny-qwen2} --base DIR --out DIR --minutes M`:
pretrain a base built by `lolzoo build-base` on the captioned digits and faces (tiny-sd,
tiny-clip) or on the text of a prepared ARC folder's train split (tiny-qwen2, `--data DIR`;
lolzoo.bases.pretrain_lm: validation loss and the unigram yardstick go into base.json).

tiny-sd trains the VAE first (a `--vae-share` of the time, default 35%), sets its latent scale,
then the UNet on its latents with the rest (plus any VAE time left over); with `--text-encoder
CLIP_DIR` the pipeline's text encoder becomes that pretrained tiny CLIP's text tower and stays
frozen, as SD 1.x's does. With `--continue`, --base is an already pretrained tiny-sd and only its
UNet trains further (from its weights, on a new `--seed`'s batches and noise), keeping its VAE,
latent scale and text encoder: a sibling base, as SD 1.5 is SD 1.4's (both trained on from one
parent, sharing the VAE and the frozen CLIP text encoder), so that their LoRAs live in related
weight spaces. tiny-clip trains the contrastive model. The output folder has the
input's layout (it loads the same way) and a base.json that records the steps each part ran,
its losses and times.

Determinism: runs use `--threads` intra-op threads (default 2; results can differ across
thread counts). A step budget (`--steps`, `--vae-steps`) reproduces the same weights for the
same seed and threads; a time budget stops wherever the machine got to, and base.json says
where, so that step count can be passed back to rebuild the same weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from lolzoo.config.kinds import PRETRAINED_BY_THE_WORKFLOW
from lolzoo.errors import UserError
from lolzoo.io import atomic_dir, atomic_write_json

CARD_FILE = "base.json"
LOSSES_FILE = "pretrain_losses.json"


def add_arguments(parser) -> None:
    parser.add_argument("--kind", required=True, choices=PRETRAINED_BY_THE_WORKFLOW, help="which base to pretrain")
    parser.add_argument("--base", required=True, type=Path, help="an untrained base folder from `lolzoo build-base`")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write")
    parser.add_argument("--minutes", type=float, help="wall-clock budget for the whole run")
    parser.add_argument("--steps", type=int, help="step budget: the UNet's (tiny-sd), the CLIP's (tiny-clip) or the LM's")
    parser.add_argument("--data", type=Path, default=None, help="tiny-qwen2: the prepared ARC folder to learn the text of")
    parser.add_argument("--vae-steps", type=int, help="tiny-sd: step budget of the VAE")
    parser.add_argument("--vae-share", type=float, default=0.35, help="tiny-sd: share of --minutes for the VAE")
    parser.add_argument("--text-encoder", type=Path, default=None,
                        help="tiny-sd: a pretrained tiny-clip folder whose text tower becomes the frozen text encoder")
    parser.add_argument("--continue", dest="continue_training", action="store_true",
                        help="tiny-sd: --base is pretrained; train its UNet further, keep its VAE and text encoder")
    parser.add_argument("--digit-share", type=float, default=None,
                        help="tiny-sd: the share of digits in a UNet batch (default: their share of the images)")
    parser.add_argument("--faces", type=int, default=1800, help="face images in the training set (plus all 1,797 digits)")
    parser.add_argument("--digits", type=int, default=None, help="use only the first N digits (default all; for quick runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of batch order, noise and dropout (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--log-every", type=int, default=50, help="print the loss every N steps (0: quiet)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    check_arguments(args)
    torch.set_num_threads(args.threads)
    from lolzoo.bases.pretrain_data import captioned_images

    try:
        with atomic_dir(args.out, overwrite=args.overwrite) as staging:  # refuses a full --out first
            if args.kind == "tiny-qwen2":
                record, losses = pretrain_tiny_qwen2(args, staging)
            else:
                data = captioned_images(faces=args.faces, digits=args.digits)
                pretrain = pretrain_tiny_sd if args.kind == "tiny-sd" else pretrain_tiny_clip
                record, losses = pretrain(args, data, staging)
            base_card = json.loads((args.base / CARD_FILE).read_text())
            atomic_write_json(staging / CARD_FILE, {**base_card, "trained": True, "pretraining": record})
            (staging / LOSSES_FILE).write_text(json.dumps(losses) + "\n")
    except FileExistsError as err:  # atomic_dir checks before anything is trained
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from err
    print(f"wrote pretrained {args.kind} to {args.out}: {json.dumps(record)}")
    return 0


def check_arguments(args) -> None:
    """Fail in one line, before any data is built, on a missing or wrong base or an empty budget."""
    kind = base_kind(args.base, "build one with `lolzoo build-base`")
    if kind != args.kind:
        raise UserError(f"{args.base}: holds a {kind} base, not {args.kind}")
    if args.minutes is None and args.steps is None:
        raise UserError("give a budget: --minutes, --steps or both")
    if args.continue_training:
        check_continue_arguments(args)
    elif args.kind == "tiny-sd" and args.minutes is None and args.vae_steps is None:
        raise UserError("tiny-sd with a step budget needs --vae-steps too")
    if (args.kind == "tiny-qwen2") != (args.data is not None):
        raise UserError("--data (a prepared ARC folder) is needed by tiny-qwen2, and only by it")
    if args.kind != "tiny-sd" and (args.text_encoder is not None or args.digit_share is not None):
        raise UserError("--text-encoder and --digit-share are tiny-sd options")
    if args.text_encoder is not None and base_kind(args.text_encoder, "--text-encoder takes a pretrained tiny-clip") != "tiny-clip":
        raise UserError(f"{args.text_encoder}: --text-encoder takes a tiny-clip base")
    if args.digit_share is not None and not 0 < args.digit_share < 1:
        raise UserError(f"--digit-share must be between 0 and 1, not {args.digit_share}")
    if not 0 < args.vae_share < 1:
        raise UserError(f"--vae-share must be between 0 and 1, not {args.vae_share}")
    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, not {args.threads}")


def check_continue_arguments(args) -> None:
    """--continue trains a pretrained tiny-sd's UNet only: its VAE and text encoder are kept."""
    if args.kind != "tiny-sd":
        raise UserError("--continue is a tiny-sd option")
    if not json.loads((args.base / CARD_FILE).read_text()).get("trained"):
        raise UserError(f"{args.base}: --continue needs a pretrained tiny-sd (this one is untrained)")
    if args.vae_steps is not None or args.text_encoder is not None:
        raise UserError("--continue keeps the base's VAE and text encoder: drop --vae-steps and --text-encoder")


def base_kind(folder: Path, hint: str) -> str:
    """The kind a base folder's base.json records; a one-line error (ending in `hint`) without one."""
    card = folder / CARD_FILE
    if not card.is_file():
        raise UserError(f"{folder}: not a base folder (no {CARD_FILE}); {hint}")
    return json.loads(card.read_text()).get("kind")


def pretrain_tiny_sd(args, data, folder: Path) -> tuple[dict, dict]:
    from lolzoo.bases.pretrain_budget import Budget
    from lolzoo.bases.pretrain_vae import set_latent_scale, train_vae
    from lolzoo.bases.tiny_sd import load_tiny_sd, save_tiny_sd

    pipeline = load_tiny_sd(args.base)
    if args.continue_training:
        return continue_tiny_sd(args, data, pipeline, folder)
    if args.text_encoder is not None:
        from lolzoo.bases.clip_text_encoder import load_clip_text_tower
        from lolzoo.bases.tiny_clip import load_tiny_clip

        try:
            load_clip_text_tower(pipeline.text_encoder, load_tiny_clip(args.text_encoder))
        except ValueError as err:
            raise UserError(f"{args.text_encoder}: {err}") from err
    total_seconds = None if args.minutes is None else 60.0 * args.minutes
    started = time.monotonic()
    vae_seconds = None if total_seconds is None else args.vae_share * total_seconds
    vae_losses = train_vae(pipeline.vae, data.images, Budget(steps=args.vae_steps, seconds=vae_seconds),
                           seed=args.seed, log_every=args.log_every)
    vae_time = time.monotonic() - started
    scale = set_latent_scale(pipeline.vae, data.images, seed=args.seed)
    unet_seconds = None if total_seconds is None else max(1.0, total_seconds - (time.monotonic() - started))
    unet_started = time.monotonic()
    unet_losses = _train_unet(args, data, pipeline, unet_seconds, train_text_encoder=args.text_encoder is None)
    save_tiny_sd(pipeline, folder)
    record = {"seed": args.seed, "threads": args.threads, "images": len(data), "minutes": args.minutes,
              "text_encoder": "trained with the UNet" if args.text_encoder is None else f"frozen text tower of {args.text_encoder}",
              "digit_share": args.digit_share,
              "vae_steps": len(vae_losses), "vae_seconds": round(vae_time, 1),
              "vae_loss_first_last": [vae_losses[0], _tail_mean(vae_losses)],
              "latent_scaling_factor": scale,
              "unet_steps": len(unet_losses), "unet_seconds": round(time.monotonic() - unet_started, 1),
              "unet_loss_first_last": [unet_losses[0], _tail_mean(unet_losses)]}
    return record, {"vae": vae_losses, "unet": unet_losses}


def continue_tiny_sd(args, data, pipeline, folder: Path) -> tuple[dict, dict]:
    """A sibling of a pretrained tiny-sd: its UNet trained on, everything else kept bit for bit."""
    from lolzoo.bases.tiny_sd import save_tiny_sd

    parent = json.loads((args.base / CARD_FILE).read_text())
    started = time.monotonic()
    losses = _train_unet(args, data, pipeline, None if args.minutes is None else 60.0 * args.minutes,
                         train_text_encoder=False)
    save_tiny_sd(pipeline, folder)
    record = {"seed": args.seed, "threads": args.threads, "images": len(data), "minutes": args.minutes,
              "continued_from": str(args.base), "parent_pretraining": parent.get("pretraining"),
              "text_encoder": "the parent's, frozen", "vae": "the parent's", "digit_share": args.digit_share,
              "unet_steps": len(losses), "unet_seconds": round(time.monotonic() - started, 1),
              "unet_loss_first_last": [losses[0], _tail_mean(losses)]}
    return record, {"unet": losses}


def _train_unet(args, data, pipeline, seconds: float | None, train_text_encoder: bool) -> list[float]:
    """The UNet's run of a tiny-sd, from scratch or continued: the flags' step budget, seed and digit share."""
    from lolzoo.bases.pretrain_budget import Budget
    from lolzoo.bases.pretrain_unet import train_unet

    return train_unet(pipeline, data.images, data.captions, Budget(steps=args.steps, seconds=seconds),
                      seed=args.seed, train_text_encoder=train_text_encoder, domains=data.domains,
                      domain_shares=None if args.digit_share is None else {"digit": args.digit_share},
                      log_every=args.log_every)


def pretrain_tiny_clip(args, data, folder: Path) -> tuple[dict, dict]:
    from lolzoo.bases.pretrain_budget import Budget
    from lolzoo.bases.pretrain_clip import train_clip
    from lolzoo.bases.tiny_clip import load_tiny_clip, save_tiny_clip

    clip = load_tiny_clip(args.base)
    started = time.monotonic()
    seconds = None if args.minutes is None else 60.0 * args.minutes
    losses = train_clip(clip, data.images, data.captions, Budget(steps=args.steps, seconds=seconds),
                        seed=args.seed, log_every=args.log_every)
    save_tiny_clip(clip, folder)
    record = {"seed": args.seed, "threads": args.threads, "images": len(data), "minutes": args.minutes,
              "clip_steps": len(losses), "clip_seconds": round(time.monotonic() - started, 1),
              "clip_loss_first_last": [losses[0], _tail_mean(losses)]}
    return record, {"clip": losses}


def pretrain_tiny_qwen2(args, folder: Path) -> tuple[dict, dict]:
    from lolzoo.bases.loading import load_causal_lm
    from lolzoo.bases.pretrain_budget import Budget
    from lolzoo.bases.pretrain_lm import mean_loss, token_blocks, train_causal_lm, unigram_cross_entropy
    from lolzoo.bases.tiny_qwen2 import pretraining_texts, save_tiny_qwen2
    from lolzoo.data.arc_questions import read_split

    model, tokenizer = load_causal_lm(args.base)
    train = token_blocks(tokenizer, pretraining_texts(read_split(args.data, "train")))
    validation = token_blocks(tokenizer, pretraining_texts(read_split(args.data, "validation")))
    before = mean_loss(model, validation)
    started = time.monotonic()
    seconds = None if args.minutes is None else 60.0 * args.minutes
    losses = train_causal_lm(model, train, Budget(steps=args.steps, seconds=seconds), seed=args.seed,
                             log_every=args.log_every)
    train_seconds = round(time.monotonic() - started, 1)
    save_tiny_qwen2(model, tokenizer, folder)
    record = {"seed": args.seed, "threads": args.threads, "minutes": args.minutes, "train_blocks": len(train),
              "block_tokens": train.shape[1], "lm_steps": len(losses), "lm_seconds": train_seconds,
              "lm_loss_first_last": [losses[0], _tail_mean(losses)],
              "validation_loss_before_after": [round(before, 4), round(mean_loss(model, validation), 4)],
              "validation_unigram_cross_entropy": round(unigram_cross_entropy(train, validation, len(tokenizer)), 4)}
    return record, {"lm": losses}


def _tail_mean(losses: list[float], window: int = 20) -> float:
    """The mean of the last steps: one step's loss is too noisy to report."""
    tail = losses[-window:]
    return sum(tail) / len(tail)
