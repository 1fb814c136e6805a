"""Load any base folder by its card: `load_sd_pipeline(folder)`, `load_clip_scorer(folder)`,
`load_causal_lm(folder)`.

Every base folder holds base.json, whose "kind" says how to load it:
- "tiny-sd" / "tiny-clip": the default world's tiny bases (lolzoo.bases.tiny_sd / tiny_clip);
- "pretrained": a folder written by `lolzoo fetch-base` (lolzoo.bases.fetch_cli). Its "role"
  is "sd" (a diffusers StableDiffusionPipeline folder: model_index.json, unet/, vae/,
  text_encoder/, tokenizer/, scheduler/) or "clip" (an open_clip weights file; the card's
  "open_clip" entry names the architecture, e.g. ViT-B-16, and the file), or "lm";
- language bases ("tiny-qwen2", "gguf", "pretrained" with role "lm") are all plain Hugging Face
  causal-LM folders (config.json, safetensors, tokenizer files), loaded by `load_causal_lm`.

Loading never touches the network (local_files_only; open_clip gets a file path, and its
tokenizer's BPE ships inside the open_clip wheel).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from lolzoo.errors import LolzooError

CARD_FILE = "base.json"
# OpenAI CLIP's image normalisation (open_clip.constants.OPENAI_DATASET_MEAN / _STD)
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
SD_PARTS = ("model_index.json", "unet", "vae", "text_encoder", "tokenizer", "scheduler")
CLIP_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def read_card(folder: str | Path) -> dict:
    """The folder's base.json; a missing or unreadable card is a one-line LolzooError."""
    folder = Path(folder)
    card = folder / CARD_FILE
    if not folder.is_dir():
        raise LolzooError(f"{folder}: base folder does not exist; build it with `lolzoo build-base` "
                          f"(tiny bases) or `lolzoo fetch-base` (pretrained bases)")
    if not card.is_file():
        raise LolzooError(f"{folder}: not a base folder (no {CARD_FILE}); build it with `lolzoo build-base` "
                          f"or `lolzoo fetch-base`")
    try:
        parsed = json.loads(card.read_text())
    except (OSError, ValueError) as err:
        raise LolzooError(f"{card}: unreadable base card ({err})") from None
    if not isinstance(parsed, dict) or "kind" not in parsed:
        raise LolzooError(f"{card}: base card has no 'kind'")
    return parsed


def missing_sd_parts(folder: Path) -> list[str]:
    """What a diffusers SD folder lacks of model_index.json and the component folders."""
    return [part for part in SD_PARTS if not (folder / part).exists()]


def load_sd_pipeline(folder: str | Path, torch_dtype=None):
    """A StableDiffusionPipeline from a tiny-sd or pretrained (role sd) base folder, offline."""
    folder = Path(folder)
    card = read_card(folder)
    kind = card["kind"]
    if kind == "tiny-sd":
        from lolzoo.bases.tiny_sd import load_tiny_sd

        return load_tiny_sd(folder)
    if kind != "pretrained":
        raise LolzooError(f"{folder / CARD_FILE}: kind '{kind}' is not a Stable Diffusion base "
                          f"(expected tiny-sd or pretrained)")
    if card.get("role", "sd") != "sd":
        raise LolzooError(f"{folder / CARD_FILE}: a pretrained '{card.get('role')}' base, not an sd base")
    missing = missing_sd_parts(folder)
    if missing:
        raise LolzooError(f"{folder}: not a diffusers Stable Diffusion folder (missing {', '.join(missing)}); "
                          f"fetch it again with `lolzoo fetch-base`")
    from diffusers import StableDiffusionPipeline

    options = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
    try:
        return StableDiffusionPipeline.from_pretrained(
            str(folder), local_files_only=True, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False, **options)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LolzooError(f"{folder}: cannot load the Stable Diffusion pipeline ({first})") from None


class OpenClipScorer:
    """A pretrained open_clip model with TinyClip's interface: embeds images and prompts, scores pairs.

    Images are (N, 3, H, W) floats in [0, 1]; they are resized (bicubic) to the model's input
    size and normalised with the model's mean/std (OpenAI's for the openai weights), which for
    square images is what open_clip's own preprocessing (resize shortest side, centre crop) does.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, image_size: int,
                 mean=OPENAI_MEAN, std=OPENAI_STD, model_name: str = ""):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._image_size = int(image_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.model_name = model_name

    @property
    def image_size(self) -> int:
        return self._image_size

    def to(self, device) -> "OpenClipScorer":
        self.model.to(device)
        return self

    @property
    def _device(self):
        return next(self.model.parameters()).device

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(list(prompts))

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) floats in [0, 1] -> normalised at the model's resolution."""
        images = images.to(self._device, torch.float32)
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size,) * 2, mode="bicubic", align_corners=False)
            images = images.clamp(0, 1)  # bicubic overshoots a little
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images - mean) / std

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings of (N, 3, H, W) images in [0, 1]."""
        return self.model.encode_image(self.preprocess(images), normalize=True)

    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenize(prompts).to(self._device), normalize=True)

    @torch.no_grad()
    def clip_score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Per pair: max(100 · cos(image, prompt), 0), the CLIP score of Hessel et al. (2021)."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        cosine = (self.embed_images(images) * self.embed_texts(prompts)).sum(dim=-1)
        return (100 * cosine).clamp(min=0).cpu()


def split_clip_name(name: str) -> tuple[str, str]:
    """"ViT-B-16/openai" -> ("ViT-B-16", "openai"); a bare architecture has tag ""."""
    arch, _, tag = str(name).partition("/")
    if not arch:
        raise LolzooError(f"open_clip name '{name}' has no architecture (expected e.g. ViT-B-16/openai)")
    return arch, tag


def load_clip_scorer(folder: str | Path):
    """A CLIP scorer (`.clip_score(images, prompts)`) from a tiny-clip or pretrained (role clip) folder."""
    folder = Path(folder)
    card = read_card(folder)
    kind = card["kind"]
    if kind == "tiny-clip":
        from lolzoo.bases.tiny_clip import load_tiny_clip

        return load_tiny_clip(folder)
    if kind != "pretrained":
        raise LolzooError(f"{folder / CARD_FILE}: kind '{kind}' is not a CLIP base (expected tiny-clip or pretrained)")
    if card.get("role") != "clip":
        raise LolzooError(f"{folder / CARD_FILE}: a pretrained '{card.get('role')}' base, not a clip base")
    spec = card.get("open_clip") or {}
    arch = spec.get("model") or split_clip_name(card.get("name", ""))[0]
    weights = folder / spec.get("weights", "")
    if not spec.get("weights") or not weights.is_file():
        raise LolzooError(f"{folder}: CLIP weights file '{spec.get('weights')}' is missing; "
                          f"fetch it again with `lolzoo fetch-base --role clip`")
    import open_clip

    if arch not in open_clip.list_models():
        raise LolzooError(f"{folder / CARD_FILE}: '{arch}' is not an open_clip architecture "
                          f"(open_clip {open_clip.__version__} knows e.g. ViT-B-16, ViT-L-14)")
    try:
        model, _, _ = open_clip.create_model_and_transforms(
            arch, pretrained=str(weights), force_quick_gelu=bool(spec.get("quick_gelu", False)),
            load_weights=True)
    except (RuntimeError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LolzooError(f"{weights}: cannot load it into open_clip {arch} ({first})") from None
    image_size = model.visual.image_size
    image_size = image_size[0] if isinstance(image_size, (tuple, list)) else image_size
    return OpenClipScorer(model, open_clip.get_tokenizer(arch), image_size,
                          mean=spec.get("mean", OPENAI_MEAN), std=spec.get("std", OPENAI_STD),
                          model_name=card.get("name", arch))


def load_causal_lm(folder: str | Path):
    """(model, tokenizer) of a language base folder: offline, float32, eval mode.

    Any Hugging Face causal-LM folder works (base.json is read when present, to refuse a
    diffusion base early). The tokenizer pads on the right (training and log-likelihood
    scoring; under causal attention right pads change no real token's output) with its pad
    token, or EOS when it has none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LolzooError(f"{folder}: language base folder does not exist; build it with `lolzoo build-base "
                          f"--kind tiny-qwen2` or `lolzoo fetch-base`")
    if (folder / CARD_FILE).is_file():
        card = read_card(folder)
        if card["kind"] in ("tiny-sd", "tiny-clip") or card.get("role") in ("sd", "clip"):
            raise LolzooError(f"{folder / CARD_FILE}: a {card.get('role') or card['kind']} base, not a language model")
    if not (folder / "config.json").is_file():
        raise LolzooError(f"{folder}: not a causal language model folder (no config.json)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LolzooError(f"{folder}: cannot load a causal language model ({first})") from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise LolzooError(f"{folder}: the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model.float().eval(), tokenizer
