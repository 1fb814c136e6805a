"""Write a canonical Lora as a PEFT folder, a diffusers folder or a kohya file.

The config/metadata each format needs to keep alpha is produced by the libraries themselves
(peft.LoraConfig, diffusers' save_lora_weights), so the outputs load in peft and diffusers.
Every output is staged under a hidden name and renamed into place when complete.
Alpha None (scale 1) is written as alpha = rank where a format demands an alpha (PEFT; diffusers
when another module has an alpha), so ΔW is always kept, the literal None not always.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lolzoo.lora import naming
from lolzoo.io import atomic_dir, atomic_file
from lolzoo.lora.pairs import pair_from_module
from lolzoo.lora.peft_config import peft_config_fields
from lolzoo.lora.readers import (DIFFUSERS_WEIGHTS, KOHYA_BASE_MODEL_KEY, KOHYA_NAMES_KEY, PEFT_WEIGHTS)
from lolzoo.lora.types import Lora, LoraFormatError, LoraModule

# diffusers loader mixins whose save_lora_weights accepts `<component>_lora_layers` for these components.
_DIFFUSERS_MIXINS = (
    ({"unet", "text_encoder"}, "StableDiffusionLoraLoaderMixin"),
    ({"unet", "text_encoder", "text_encoder_2"}, "StableDiffusionXLLoraLoaderMixin"),
    ({"transformer", "text_encoder", "text_encoder_2"}, "SD3LoraLoaderMixin"),
)


def write_peft(lora: Lora, out_dir: str | Path, base_model: str | None = None, overwrite: bool = False) -> Path:
    """A PEFT adapter folder; a multi-component LoRA gets one adapter subfolder per component."""
    out_dir = Path(out_dir)
    base_model = base_model or lora.base_model
    by_component = _by_component(lora)
    if "" in by_component and len(by_component) > 1:
        raise LoraFormatError(f"{out_dir}: cannot mix component-less modules with components "
                              f"{sorted(c for c in by_component if c)} in one PEFT folder")
    with atomic_dir(out_dir, overwrite) as staging:
        for component, modules in by_component.items():
            _write_peft_adapter(staging / component if component else staging, modules, base_model)
    return out_dir


def _write_peft_adapter(folder: Path, modules: list[LoraModule], base_model: str | None) -> None:
    from peft import LoraConfig
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    LoraConfig(base_model_name_or_path=base_model, **peft_config_fields(modules)).save_pretrained(folder)
    save_file(_lora_ab_tensors(modules, naming.PEFT_PREFIX), str(folder / PEFT_WEIGHTS), metadata={"format": "pt"})


def _lora_ab_tensors(modules: list[LoraModule], prefix: str = "") -> dict[str, torch.Tensor]:
    """`<prefix><path>.lora_A.weight` / `.lora_B.weight` (and DoRA's `.lora_magnitude_vector`):
    the key naming PEFT and diffusers share."""
    tensors = {}
    for module in modules:
        down, up = pair_from_module(module)
        tensors[f"{prefix}{module.path}.lora_A.weight"] = down
        tensors[f"{prefix}{module.path}.lora_B.weight"] = up
        if module.magnitude is not None:
            if module.conv_kernel is not None:  # peft keeps conv magnitudes 4-D; we have no such zoo to test on
                raise LoraFormatError(f"{module.name}: writing the DoRA magnitude of a conv module is not supported")
            tensors[f"{prefix}{module.path}.lora_magnitude_vector"] = module.magnitude.contiguous()
    return tensors


def write_diffusers(lora: Lora, out_dir: str | Path, overwrite: bool = False) -> Path:
    """A folder with pytorch_lora_weights.safetensors, saved by diffusers' own save_lora_weights.

    Alphas travel in the `lora_adapter_metadata` diffusers reads back (without it diffusers
    assumes scale 1); it is written whenever some module has an alpha.
    """
    import diffusers.loaders.lora_pipeline as pipelines

    out_dir = Path(out_dir)
    by_component = _by_component(lora)
    if "" in by_component:
        raise LoraFormatError(f"{out_dir}: a diffusers LoRA file names a pipeline component (unet, text_encoder, "
                              "...) for every module; this LoRA is a single-model adapter: write it as PEFT")
    mixin_name = next((name for supported, name in _DIFFUSERS_MIXINS if set(by_component) <= supported), None)
    if mixin_name is None:
        raise LoraFormatError(f"{out_dir}: no diffusers pipeline saves components {sorted(by_component)} together")
    keep_alpha = any(m.alpha is not None for m in lora.modules)
    kwargs = {}
    for component, modules in by_component.items():
        kwargs[f"{component}_lora_layers"] = _lora_ab_tensors(modules)
        if keep_alpha:
            kwargs[f"{component}_lora_adapter_metadata"] = _lora_config_dict(modules, lora.base_model)
    with atomic_dir(out_dir, overwrite) as staging:
        getattr(pipelines, mixin_name).save_lora_weights(staging, weight_name=DIFFUSERS_WEIGHTS, **kwargs)
        if not (staging / DIFFUSERS_WEIGHTS).is_file():  # diffusers logs instead of raising on some errors
            raise LoraFormatError(f"{out_dir}: diffusers did not write {DIFFUSERS_WEIGHTS}")
    return out_dir


def _lora_config_dict(modules: list[LoraModule], base_model: str | None) -> dict:
    """What diffusers' training scripts pass as `*_lora_adapter_metadata`: LoraConfig.to_dict()."""
    from peft import LoraConfig

    config = LoraConfig(base_model_name_or_path=base_model, **peft_config_fields(modules)).to_dict()
    return {key: sorted(value) if isinstance(value, set) else value for key, value in config.items()}


def write_kohya(lora: Lora, out_file: str | Path) -> Path:
    """One kohya .safetensors file: <name>.lora_down.weight, .lora_up.weight and .alpha (when set).

    kohya names have no dots; the dotted paths go into the file's metadata so that files
    written here read back with the exact paths (other tools ignore it).
    """
    from safetensors.torch import save_file

    out_file = Path(out_file)
    if out_file.suffix != ".safetensors":
        raise LoraFormatError(f"{out_file}: a kohya LoRA file must end in .safetensors")
    if lora.is_dora:
        raise LoraFormatError(f"{out_file}: a DoRA adapter is not written as kohya: trainers disagree on the "
                              "orientation of its dora_scale; write it as PEFT or diffusers")
    components = {m.component for m in lora.modules}
    tensors, dotted = {}, {}
    for module in lora.modules:
        name = naming.kohya_name(module.component, module.path, components)
        if name in dotted:
            raise LoraFormatError(f"{out_file}: modules {dotted[name]} and {[module.component, module.path]} "
                                  f"both become kohya name {name}")
        dotted[name] = [module.component, module.path]
        down, up = pair_from_module(module)
        tensors[f"{name}.lora_down.weight"] = down
        tensors[f"{name}.lora_up.weight"] = up
        if module.alpha is not None:
            alpha_dtype = torch.float64 if down.dtype == torch.float64 else torch.float32
            tensors[f"{name}.alpha"] = torch.tensor(module.alpha, dtype=alpha_dtype)
    metadata = {"format": "pt", KOHYA_NAMES_KEY: json.dumps(dotted, sort_keys=True)}
    if lora.base_model:
        metadata[KOHYA_BASE_MODEL_KEY] = lora.base_model
    with atomic_file(out_file) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return out_file


def _by_component(lora: Lora) -> dict[str, list[LoraModule]]:
    groups: dict[str, list[LoraModule]] = {}
    for module in lora.modules:
        groups.setdefault(module.component, []).append(module)
    return groups
