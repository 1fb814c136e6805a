"""Canonical LoRA I/O: PEFT, diffusers and kohya files into one ordered list of (U, V) modules.

    lora = read_lora("adapter_dir")            # PEFT folder, diffusers or kohya file
    write_kohya(lora, "adapter.safetensors")   # or write_peft / write_diffusers

Choices worth knowing:
- Modules match across formats by `LoraModule.key` (component + path with dots as
  underscores), because kohya names cannot be turned back into dotted paths.
- Conv LoRAs are kept: A (r x c_in x k1 x k2) is flattened to V ((c_in*k1*k2) x r), B
  (c_out x r x 1 x 1) to U, and `conv_kernel` records (k1, k2) so writers restore 4-D tensors.
- Alpha is never dropped: PEFT configs (rank/alpha patterns, rsLoRA folded in), diffusers'
  `lora_adapter_metadata`, kohya/diffusers `.alpha` tensors. None means scale 1.
- Anything that is not plain LoRA (DoRA, LoHa, biases, extra tensors) is refused, not skipped.
- Pickle files are refused unless allow_pickle=True, and then loaded weights-only.
- Every file is untrusted: only regular files are opened (never a FIFO or device), headers and
  configs are size-capped and checked before any tensor is allocated (safetensors_io lists the
  checks), NaN/Inf weights and alphas are refused by name, and every failure is one
  LoraFormatError line starting with the path. tests/lora/test_fuzz_lora_files.py fuzzes this.
"""

from lolzoo.lora.readers import read_lora
from lolzoo.lora.types import KNOWN_COMPONENTS, Lora, LoraFormatError, LoraModule, module_key
from lolzoo.lora.writers import write_diffusers, write_kohya, write_peft

__all__ = ["KNOWN_COMPONENTS", "Lora", "LoraFormatError", "LoraModule", "module_key",
           "read_lora", "write_diffusers", "write_kohya", "write_peft"]
