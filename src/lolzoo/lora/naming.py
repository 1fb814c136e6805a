"""Tensor names of the three LoRA formats: parse a stored name into (component, path, part), and back.

A part is "down" (A), "up" (B), "alpha" or "magnitude" (DoRA's lora_magnitude_vector, as
peft and diffusers store it). Names we recognise but cannot represent (kohya/LyCORIS DoRA,
LoHa, embeddings, biases) are refused with their own reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lolzoo.lora.types import LoraFormatError, module_key

PEFT_PREFIX = "base_model.model."
DIFFUSERS_COMPONENTS = ("unet", "transformer", "prior", "text_encoder", "text_encoder_2", "text_encoder_3")

# kohya name prefixes, longest first so "lora_te1_" wins over "lora_te_"; "lora_" alone means no component.
KOHYA_PREFIXES = (
    ("lora_transformer_", "transformer"),
    ("lora_unet_", "unet"),
    ("lora_te1_", "text_encoder"),
    ("lora_te2_", "text_encoder_2"),
    ("lora_te3_", "text_encoder_3"),
    ("lora_te_", "text_encoder"),
    ("lora_", ""),
)

_HALF = {"A": "down", "B": "up", "down": "down", "up": "up"}

# Parsed in order; each gives the module path and which half. Group "proj" marks the oldest
# attention-processor layout (to_q_lora.down), whose module name needs mapping.
_DIFFUSERS_PATTERNS = (
    re.compile(r"^(?P<path>.+?)\.(?P<proj>to_q|to_k|to_v|to_out)_lora\.(?P<half>down|up)\.weight$"),
    re.compile(r"^(?P<path>.+)\.lora_(?P<half>A|B)(?:\.[^.]+)?\.weight$"),
    re.compile(r"^(?P<path>.+)\.lora\.(?P<half>down|up)\.weight$"),
    re.compile(r"^(?P<path>.+)\.lora_linear_layer\.(?P<half>down|up)\.weight$"),
)
_PEFT_PATTERN = re.compile(r"^(?P<path>.+)\.lora_(?P<half>A|B)(?:\.(?P<adapter>[^.]+))?\.weight$")
# DoRA: saved as `<path>.lora_magnitude_vector`; in a live model's state dict `.<adapter>.weight` follows.
_MAGNITUDE_PATTERN = re.compile(r"^(?P<path>.+)\.lora_magnitude_vector(?:\.(?P<adapter>(?!weight$)[^.]+))?(?:\.weight)?$")
_KOHYA_PATTERN = re.compile(r"^(?P<name>lora_[^.]+)\.(?P<part>lora_down\.weight|lora_up\.weight|alpha)$")

# Oldest diffusers attention processors: the UNet names the projection to_q / to_out.0,
# CLIP text encoders name it q_proj / out_proj.
_UNET_PROJ = {"to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0"}
_TEXT_PROJ = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out": "out_proj"}

# Recognised but unsupported variants: (substring, reason).
_UNSUPPORTED = (
    ("dora_scale", "kohya/LyCORIS DoRA (dora_scale) is not read: its orientation depends on the trainer; "
                   "convert it to a PEFT DoRA adapter"),
    ("lora_embedding_", "embedding LoRAs (lora_embedding_A/B) are not supported"),
    ("lora_mid", "LoCon/Tucker (lora_mid) factors are not a plain LoRA"),
    ("hada_", "LyCORIS LoHa is not a LoRA"),
    ("lokr_", "LyCORIS LoKr is not a LoRA"),
    (".lora_B.bias", "LoRA biases (lora_bias=True) are not supported"),
    (".lora_up.bias", "LoRA biases are not supported"),
)


@dataclass(frozen=True)
class TensorRole:
    component: str
    path: str
    part: str  # "down", "up" or "alpha"
    adapter: str | None = None  # PEFT adapter name when the key carries one (lora_A.default.weight)


def unsupported_reason(name: str) -> str | None:
    return next((reason for marker, reason in _UNSUPPORTED if marker in name), None)


def parse_peft(name: str, component: str) -> TensorRole | None:
    name = name.removeprefix(PEFT_PREFIX)
    match = _PEFT_PATTERN.match(name)
    if match:
        return TensorRole(component, match["path"], _HALF[match["half"]], match["adapter"])
    match = _MAGNITUDE_PATTERN.match(name)
    if match:
        return TensorRole(component, match["path"], "magnitude", match["adapter"])
    return None


def parse_diffusers(name: str) -> TensorRole | None:
    head, dot, rest = name.partition(".")
    component, rest = (head, rest) if dot and head in DIFFUSERS_COMPONENTS else ("", name)
    rest = rest.replace(".processor.", ".")  # attention processors are not part of the module path
    if rest.endswith(".alpha"):
        return TensorRole(component, rest.removesuffix(".alpha"), "alpha")
    magnitude = _MAGNITUDE_PATTERN.match(rest)
    if magnitude:
        return TensorRole(component, magnitude["path"], "magnitude")
    for pattern in _DIFFUSERS_PATTERNS:
        match = pattern.match(rest)
        if match:
            path = match["path"]
            if "proj" in pattern.groupindex:
                names = _TEXT_PROJ if component.startswith("text_encoder") else _UNET_PROJ
                path = f"{path}.{names[match['proj']]}"
            return TensorRole(component, path, _HALF[match["half"]])
    return None


def parse_kohya(name: str) -> TensorRole | None:
    match = _KOHYA_PATTERN.match(name)
    if not match:
        return None
    lora_name = match["name"]
    prefix, component = next((p, c) for p, c in KOHYA_PREFIXES if lora_name.startswith(p))
    path = lora_name[len(prefix):]
    if not path:
        return None
    part = {"lora_down.weight": "down", "lora_up.weight": "up", "alpha": "alpha"}[match["part"]]
    return TensorRole(component, path, part)


def looks_like_kohya(names) -> bool:
    return any(_KOHYA_PATTERN.match(n) for n in names)


def looks_like_diffusers(names) -> bool:
    return any(parse_diffusers(n) is not None and not n.endswith(".alpha") for n in names)


def kohya_name(component: str, path: str, components: set[str]) -> str:
    """The kohya module name, e.g. lora_unet_down_blocks_0_attentions_0_proj_in."""
    if component == "text_encoder":
        prefix = "lora_te1_" if "text_encoder_2" in components else "lora_te_"
    else:
        prefix = next((p for p, c in KOHYA_PREFIXES if c == component and component), None)
        if prefix is None:
            prefix = f"lora_{component}_" if component else "lora_"
    return prefix + module_key("", path)


def unrecognised_error(source, names: list[str], fmt: str) -> LoraFormatError:
    reasons = sorted({r for r in map(unsupported_reason, names) if r})
    if reasons:
        return LoraFormatError(f"{source}: unsupported LoRA variant: {'; '.join(reasons)}")
    shown = ", ".join(sorted(names)[:3]) + (f" (and {len(names) - 3} more)" if len(names) > 3 else "")
    return LoraFormatError(f"{source}: {len(names)} tensor(s) are not part of a {fmt} LoRA, e.g. {shown}")
