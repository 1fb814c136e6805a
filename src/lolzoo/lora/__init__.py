"""Canonical LoRA I/O: PEFT, diffusers and kohya files into one ordered list of (U, V) modules."""

from lolzoo.lora.types import KNOWN_COMPONENTS, Lora, LoraFormatError, LoraModule, module_key

__all__ = ["KNOWN_COMPONENTS", "Lora", "LoraFormatError", "LoraModule", "module_key"]
