"""`read_lora(path)`: any PEFT / diffusers / kohya LoRA file or folder -> one canonical Lora.

Layouts recognised (first match wins):
  folder with adapter_config.json                  PEFT adapter, component ""
  folder with pytorch_lora_weights.safetensors     diffusers file
  folder whose subfolders hold PEFT adapters       one component per subfolder (peft's DreamBooth)
  folder with exactly one *.safetensors            that file
  *.safetensors file                               kohya or diffusers, told apart by tensor names
  .bin/.pt/.pth/.ckpt (or PEFT adapter_model.bin)  only with allow_pickle=True
Every problem is a LoraFormatError whose message starts with the path.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from lolzoo.lora import naming
from lolzoo.lora.pairs import module_from_pair
from lolzoo.lora.peft_config import AlphaResolver, check_dora_flag
from lolzoo.lora.pickle_io import PICKLE_SUFFIXES, read_pickle_state_dict
from lolzoo.lora.safetensors_io import read_safetensors
from lolzoo.lora.types import Lora, LoraFormatError, LoraModule
from lolzoo.lora.untrusted_files import read_capped_text

PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_PICKLE = "adapter_model.bin"
DIFFUSERS_WEIGHTS = "pytorch_lora_weights.safetensors"
DIFFUSERS_PICKLE = "pytorch_lora_weights.bin"
DIFFUSERS_METADATA_KEY = "lora_adapter_metadata"  # diffusers.loaders.lora_base.LORA_ADAPTER_METADATA_KEY
KOHYA_NAMES_KEY = "lolzoo_modules"  # our kohya writer's map kohya name -> [component, dotted path]
KOHYA_BASE_MODEL_KEY = "lolzoo_base_model"
MAX_CONFIG_BYTES = 1024 * 1024  # real adapter_config.json files are a few KiB

AlphaFor = Callable[[str, str, int], "float | None"]  # (component, path, rank) -> alpha


def read_lora(path: str | Path, allow_pickle: bool = False) -> Lora:
    """Read a LoRA; pickle files are refused unless allow_pickle (then weights-only)."""
    path = Path(path)
    try:
        if not path.exists():
            raise LoraFormatError(f"{path}: no such file or folder")
        lora = _read_folder(path, allow_pickle) if path.is_dir() else _read_file(path, allow_pickle)
        lora.check_finite()
    except LoraFormatError as err:
        if str(err).startswith(str(path)):
            raise
        raise LoraFormatError(f"{path}: {err}") from err
    except OSError as err:  # permissions, a folder vanishing mid-read...
        raise LoraFormatError(f"{path}: cannot read: {err}") from err
    return lora


def _read_folder(folder: Path, allow_pickle: bool) -> Lora:
    if (folder / PEFT_CONFIG).is_file():
        modules, config = _read_peft_adapter(folder, "", allow_pickle)
        return Lora(modules, "peft", config.get("base_model_name_or_path"),
                    {"source": str(folder), "adapter_config": config})
    for name in (DIFFUSERS_WEIGHTS, DIFFUSERS_PICKLE):
        if (folder / name).is_file():
            return _read_file(folder / name, allow_pickle)
    subfolders = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    adapters = [d for d in subfolders if (d / PEFT_CONFIG).is_file()]
    incomplete = [d.name for d in subfolders if d not in adapters
                  and ((d / PEFT_WEIGHTS).exists() or (d / PEFT_PICKLE).exists())]
    if incomplete:
        raise LoraFormatError(f"{folder}: subfolder(s) {incomplete} hold adapter weights but no "
                              f"{PEFT_CONFIG} (incomplete write?)")
    if adapters:
        return _read_component_folders(folder, adapters, allow_pickle)
    files = sorted(folder.glob("*.safetensors"))
    if len(files) == 1:
        return _read_file(files[0], allow_pickle)
    if files:
        raise LoraFormatError(f"{folder}: {len(files)} .safetensors files ({', '.join(f.name for f in files[:4])}); "
                              "pass the one you mean")
    raise LoraFormatError(f"{folder}: unknown layout: expected {PEFT_CONFIG} (PEFT), {DIFFUSERS_WEIGHTS} "
                          f"(diffusers), component subfolders with {PEFT_CONFIG}, or one .safetensors file")


def _read_component_folders(folder: Path, adapters: list[Path], allow_pickle: bool) -> Lora:
    modules, configs = [], {}
    for sub in adapters:
        sub_modules, configs[sub.name] = _read_peft_adapter(sub, sub.name, allow_pickle)
        modules += sub_modules
    base = next((c.get("base_model_name_or_path") for c in configs.values() if c.get("base_model_name_or_path")), None)
    return Lora(modules, "peft", base, {"source": str(folder), "adapter_config": configs})


def _read_peft_adapter(folder: Path, component: str, allow_pickle: bool) -> tuple[list[LoraModule], dict]:
    config_path = folder / PEFT_CONFIG
    text = read_capped_text(config_path, MAX_CONFIG_BYTES)
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as err:  # bad JSON, integers over 4300 digits, nesting too deep
        raise LoraFormatError(f"{config_path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise LoraFormatError(f"{config_path}: expected a JSON object")
    resolver = AlphaResolver(config, str(config_path))
    if (folder / PEFT_WEIGHTS).is_file():
        weights_path = folder / PEFT_WEIGHTS
        tensors, _ = read_safetensors(weights_path)
    elif (folder / PEFT_PICKLE).is_file():
        weights_path = folder / PEFT_PICKLE
        tensors = read_pickle_state_dict(weights_path, allow_pickle)
    else:
        raise LoraFormatError(f"{folder}: PEFT folder without {PEFT_WEIGHTS} (or {PEFT_PICKLE})")

    roles = _roles(tensors, lambda name: naming.parse_peft(name, component), weights_path, "PEFT")
    adapter_names = {role.adapter for role in roles.values()}
    if len(adapter_names) > 1:
        raise LoraFormatError(f"{weights_path}: several adapters in one file "
                              f"({sorted(str(a) for a in adapter_names)}); keep one")
    modules = _assemble(tensors, roles, weights_path, lambda _c, path, rank: resolver.alpha(path, rank))
    check_dora_flag(resolver.use_dora, modules, str(config_path))
    return modules, config


def _read_file(path: Path, allow_pickle: bool) -> Lora:
    if path.name in (PEFT_WEIGHTS, PEFT_PICKLE) and (path.parent / PEFT_CONFIG).is_file():
        return _read_folder(path.parent, allow_pickle)
    if path.suffix == ".safetensors":
        tensors, file_metadata = read_safetensors(path)
    elif path.suffix in PICKLE_SUFFIXES:
        tensors, file_metadata = read_pickle_state_dict(path, allow_pickle), {}
    else:
        raise LoraFormatError(f"{path}: unknown file type {path.suffix!r}: expected .safetensors "
                              f"(or a pickle {'/'.join(PICKLE_SUFFIXES)} with allow_pickle), or a LoRA folder")
    names = list(tensors)
    if not names:
        raise LoraFormatError(f"{path}: no LoRA tensors: the file holds no tensors at all")
    if naming.looks_like_kohya(names):
        return _kohya_lora(path, tensors, file_metadata)
    if any(name.startswith(naming.PEFT_PREFIX) for name in names):
        raise LoraFormatError(f"{path}: PEFT adapter weights without {PEFT_CONFIG} next to them: "
                              "the alpha (scaling) is unknown; read the whole PEFT folder")
    if naming.looks_like_diffusers(names):
        return _diffusers_lora(path, tensors, file_metadata)
    shown = ", ".join(sorted(names)[:3])
    raise LoraFormatError(f"{path}: no LoRA tensors among {len(names)} tensor(s) (e.g. {shown}); expected "
                          "PEFT/diffusers lora_A/lora_B or lora.down/lora.up, or kohya lora_down/lora_up names")


def _kohya_lora(path: Path, tensors: dict, file_metadata: dict) -> Lora:
    roles = _roles(tensors, naming.parse_kohya, path, "kohya")
    roles = _restore_dotted_paths(roles, file_metadata.get(KOHYA_NAMES_KEY))
    modules = _assemble(tensors, roles, path, alpha_for=None)
    base = file_metadata.get(KOHYA_BASE_MODEL_KEY)
    return Lora(modules, "kohya", base, {"source": str(path), "file_metadata": file_metadata})


def _restore_dotted_paths(roles: dict, names_json: str | None) -> dict:
    """kohya names lose the dots; files we wrote carry (component, dotted path) per kohya name
    in their metadata. An entry is used only if it gives back that very kohya name, so stale or
    foreign metadata cannot rename a module."""
    try:
        names = json.loads(names_json) if names_json else {}
    except (ValueError, RecursionError):  # foreign or hostile metadata is ignored, as if absent
        return roles
    if not isinstance(names, dict):
        return roles
    entries = {name: tuple(entry) for name, entry in names.items()
               if isinstance(entry, list) and len(entry) == 2 and all(isinstance(s, str) for s in entry)}
    components = {component for component, _ in entries.values()}
    restored = {}
    for tensor_name, role in roles.items():
        lora_name = tensor_name.split(".")[0]
        entry = entries.get(lora_name)
        if entry and naming.kohya_name(*entry, components) == lora_name:
            role = naming.TensorRole(entry[0], entry[1], role.part)
        restored[tensor_name] = role
    return restored


def _diffusers_lora(path: Path, tensors: dict, file_metadata: dict) -> Lora:
    roles = _roles(tensors, naming.parse_diffusers, path, "diffusers")
    configs = _diffusers_configs(path, file_metadata.get(DIFFUSERS_METADATA_KEY))
    resolvers = {component: AlphaResolver(config, f"{path} ({DIFFUSERS_METADATA_KEY}[{component or 'top'}])")
                 for component, config in configs.items()}

    def alpha_for(component: str, module_path: str, rank: int) -> float | None:
        resolver = resolvers.get(component) or resolvers.get("")
        return resolver.alpha(module_path, rank) if resolver else None

    modules = _assemble(tensors, roles, path, alpha_for)
    base = next((c.get("base_model_name_or_path") for c in configs.values() if c.get("base_model_name_or_path")), None)
    return Lora(modules, "diffusers", base, {"source": str(path), "file_metadata": file_metadata})


def _diffusers_configs(path: Path, raw: str | None) -> dict[str, dict]:
    """The LoraConfig dicts diffusers stores: flat keys "unet.lora_alpha" per component when a
    pipeline saved the file, plain "lora_alpha" when a single model did (save_lora_adapter)."""
    if not raw:
        return {}
    try:
        flat = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise LoraFormatError(f"{path}: metadata {DIFFUSERS_METADATA_KEY} is not valid JSON ({err})") from None
    if not isinstance(flat, dict):
        raise LoraFormatError(f"{path}: metadata {DIFFUSERS_METADATA_KEY} is not a JSON object")
    configs: dict[str, dict] = defaultdict(dict)
    for key, value in flat.items():
        head, dot, rest = key.partition(".")
        if dot and head in naming.DIFFUSERS_COMPONENTS:
            configs[head][rest] = value
        else:
            configs[""][key] = value
    return dict(configs)


def _roles(tensors: dict, parse, source: Path, fmt: str) -> dict[str, naming.TensorRole]:
    roles, unknown = {}, []
    for name in tensors:
        role = parse(name)
        if role is None:
            unknown.append(name)
        else:
            roles[name] = role
    if unknown:
        raise naming.unrecognised_error(source, unknown, fmt)
    return roles


def _assemble(tensors: dict[str, torch.Tensor], roles: dict[str, naming.TensorRole], source: Path,
              alpha_for: AlphaFor | None) -> list[LoraModule]:
    """Group tensors by module, pair down with up, attach the alpha; refuse every incomplete module."""
    groups: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for name, role in roles.items():
        parts = groups[(role.component, role.path)]
        if role.part in parts:
            raise LoraFormatError(f"{source}: two tensors give the {role.part} weight of one module: "
                                  f"{parts[role.part]} and {name}")
        parts[role.part] = name
    if not groups:
        raise LoraFormatError(f"{source}: no LoRA tensors found")

    modules = []
    for (component, path), parts in groups.items():
        label = f"{component}.{path}" if component else path
        missing = [p for p in ("down", "up") if p not in parts]
        if missing:
            have = ", ".join(parts.values())
            what = {"down": "A/down", "up": "B/up"}
            raise LoraFormatError(f"{source}: module {label} has {have} but no {' or '.join(what[p] for p in missing)} "
                                  "weight (missing half of the LoRA pair)")
        down, up = tensors[parts["down"]], tensors[parts["up"]]
        if down.ndim >= 1 and up.ndim >= 2 and down.shape[0] != up.shape[1]:
            raise LoraFormatError(f"{source}: module {label}: mismatched ranks inside the pair: "
                                  f"{parts['down']} {tuple(down.shape)} vs {parts['up']} {tuple(up.shape)}")
        if "alpha" in parts:
            alpha_tensor = tensors[parts["alpha"]]
            if alpha_tensor.numel() != 1:
                raise LoraFormatError(f"{source}: {parts['alpha']} should be a scalar, has shape "
                                      f"{tuple(alpha_tensor.shape)}")
            alpha = float(alpha_tensor.reshape(()).item())
            if alpha == 0:  # kohya's sd-scripts loads 0 as alpha = rank, diffusers and ComfyUI as scale 0
                raise LoraFormatError(f"{source}: {parts['alpha']} is 0, which tools read differently "
                                      "(kohya: alpha = rank, others: scale 0); refusing to guess")
        else:
            alpha = alpha_for(component, path, int(down.shape[0])) if alpha_for and down.ndim >= 1 else None
        magnitude = tensors[parts["magnitude"]] if "magnitude" in parts else None
        modules.append(module_from_pair(component, path, down, up, alpha, magnitude))
    keys = [m.key for m in modules]
    if len(set(keys)) != len(keys):
        dup = next(k for k, count in Counter(keys).items() if count > 1)
        raise LoraFormatError(f"{source}: two modules share the key {dup} (names differ only by '.' vs '_')")
    return modules
