"""Canonical LoRA I/O: PEFT, diffusers and kohya files into one ordered list of (U, V) modules.

    lora = read_lora("adapter_dir")            # PEFT folder, diffusers or kohya file
    write_kohya(lora, "adapter.safetensors")   # or write_peft / write_diffusers
"""

from lolzoo.lora.readers import read_lora
from lolzoo.lora.types import KNOWN_COMPONENTS, Lora, LoraFormatError, LoraModule, module_key
from lolzoo.lora.writers import write_diffusers, write_kohya, write_peft

__all__ = ["KNOWN_COMPONENTS", "Lora", "LoraFormatError", "LoraModule", "module_key",
           "read_lora", "write_diffusers", "write_kohya", "write_peft"]
