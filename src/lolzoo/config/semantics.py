"""Checks JSON schema cannot express: references between sections, bounds, paths on disk."""

from __future__ import annotations

import math
from pathlib import Path

from lolzoo.config.errors import ConfigError
from lolzoo.config.kinds import ARC_DATA_KINDS, DIFFUSION_TYPES, LANGUAGE_TYPES, PRETRAINED_BY_THE_WORKFLOW
from lolzoo.config.standins import STANDIN_FOLDERS, STANDINS_DIR, standin_folder


def check_semantics(config: dict, base_dir: Path) -> None:
    _check_paths(config, base_dir)
    _check_pretraining(config["bases"])
    _check_language_bases(config)
    for zoo_name, zoo in config["zoos"].items():
        where = f"zoos.{zoo_name}"
        for section, key in (("bases", "base"), ("bases", "clip"), ("data", "data")):
            ref = zoo.get(key)
            if ref is not None and ref not in config[section]:
                known = ", ".join(sorted(config[section])) or "none defined"
                raise ConfigError(f"config key '{where}.{key}': "
                                  f"'{ref}' is not an entry of '{section}' (known: {known})")
        for name, spec in zoo["hparams"].items():
            _check_distribution(spec, f"{where}.hparams.{name}")
        _check_distribution(zoo["lora"]["rank"], f"{where}.lora.rank")
        if zoo["type"] in LANGUAGE_TYPES:
            _check_sources(zoo["sources"], f"{where}.sources")
        elif zoo["lora"].get("dora"):
            raise ConfigError(f"config key '{where}.lora.dora': DoRA is trained for language zoos (arc-sources) "
                              f"only; a {zoo['type']} zoo's shards train lolzoo's batched LoRA, which has no DoRA")
        if zoo.get("data_shard_size", zoo["shard_size"]) % zoo["shard_size"]:
            raise ConfigError(f"config key '{where}.data_shard_size': {zoo['data_shard_size']} is not a multiple "
                              f"of shard_size {zoo['shard_size']} (a training shard reads one data folder)")
        if zoo["type"] in DIFFUSION_TYPES:
            _check_evaluation(config, zoo_name, zoo)
        if zoo["type"] == "dreambooth-subject":
            source = config["data"][zoo["data"]]
            identities = source.get("identities")
            if identities is not None and zoo["count"] > identities:
                raise ConfigError(f"config key '{where}.count': {zoo['count']} LoRAs need {zoo['count']} "
                                  f"subjects but 'data.{zoo['data']}.identities' is {identities}")
    _check_lol_tasks(config)
    _check_transfer(config)
    split = config["lol"]["split"]
    if not math.isclose(split["train"] + split["val"] + split["test"], 1.0, abs_tol=1e-9):
        raise ConfigError(f"config key 'lol.split': train + val + test must be 1, got "
                          f"{split['train']} + {split['val']} + {split['test']}")


def _check_evaluation(config: dict, zoo_name: str, zoo: dict) -> None:
    """An evaluated diffusion zoo names the CLIP that scores it; one without evaluation has no
    CLIP score for a task to target."""
    where = f"zoos.{zoo_name}"
    if "evaluation" in zoo:
        if "clip" not in zoo:
            raise ConfigError(f"config key '{where}.clip' is missing: the evaluation's CLIP score needs a CLIP "
                              f"model (an entry of 'bases')")
        return
    for task_name, task in config["lol"]["tasks"].get(zoo_name, {}).items():
        if "clip_score" in task["targets"]:
            raise ConfigError(f"config key 'lol.tasks.{zoo_name}.{task_name}': targets clip_score, but "
                              f"'{where}' has no evaluation (its LoRAs carry their data labels only)")


def _check_lol_tasks(config: dict) -> None:
    """LoL tasks name zoos of this config; a multiclass task predicts one column."""
    for zoo_name, tasks in config["lol"]["tasks"].items():
        if zoo_name not in config["zoos"]:
            known = ", ".join(sorted(config["zoos"]))
            raise ConfigError(f"config key 'lol.tasks.{zoo_name}': '{zoo_name}' is not an entry of 'zoos' "
                              f"(known: {known})")
        for task_name, task in tasks.items():
            if task["kind"] == "multiclass" and (len(task["targets"]) != 1 or "*" in task["targets"][0]):
                raise ConfigError(f"config key 'lol.tasks.{zoo_name}.{task_name}.targets': a multiclass task "
                                  f"predicts one column, got {task['targets']}")


def _check_transfer(config: dict) -> None:
    """Cross-base transfer tests a zoo's fitted models on other zoos of its type."""
    zoos = config["zoos"]
    for source, targets in config["lol"]["transfer"].items():
        where = f"lol.transfer.{source}"
        if not config["lol"]["tasks"].get(source):
            raise ConfigError(f"config key '{where}': '{source}' has no LoL tasks (lol.tasks), so nothing to transfer")
        for target in targets:
            if target == source or target not in zoos:
                others = ", ".join(sorted(z for z in zoos if z != source))
                raise ConfigError(f"config key '{where}': '{target}' is not another entry of 'zoos' (known: {others})")
            if zoos[target]["type"] != zoos[source]["type"]:
                raise ConfigError(f"config key '{where}': '{target}' is a {zoos[target]['type']} zoo, "
                                  f"'{source}' a {zoos[source]['type']} zoo; transfer needs LoRAs of one kind")


def _check_pretraining(bases: dict) -> None:
    """A tiny SD, CLIP or Qwen2 base is pretrained by a workflow rule, from its `pretrain` step budget."""
    for name, base in bases.items():
        where = f"bases.{name}"
        pretrain = base.get("pretrain")
        if base["kind"] in PRETRAINED_BY_THE_WORKFLOW and pretrain is None:
            raise ConfigError(f"config key '{where}.pretrain' is missing: a {base['kind']} base is pretrained "
                              "by the workflow and needs its step budget ({steps: ...})")
        if pretrain is not None and base["kind"] not in PRETRAINED_BY_THE_WORKFLOW:
            raise ConfigError(f"config key '{where}.pretrain': only {', '.join(PRETRAINED_BY_THE_WORKFLOW)} "
                              f"bases are pretrained by the workflow, not {base['kind']}")
        if "parent" in base:
            _check_parent(bases, name)
        elif base["kind"] == "tiny-sd" and "vae_steps" not in pretrain:
            raise ConfigError(f"config key '{where}.pretrain.vae_steps' is missing: a tiny-sd base trains its VAE first")
        if base["kind"] in ("tiny-clip", "tiny-qwen2") and "vae_steps" in pretrain:
            raise ConfigError(f"config key '{where}.pretrain.vae_steps': a {base['kind']} base has no VAE")
        if pretrain is not None and "digit_share" in pretrain and base["kind"] != "tiny-sd":
            raise ConfigError(f"config key '{where}.pretrain.digit_share': only a tiny-sd base draws digits")
        if "text_encoder" in base:
            _check_text_encoder(bases, name)


def _check_parent(bases: dict, name: str) -> None:
    """A sibling tiny-sd trains a pretrained tiny-sd's UNet further and keeps its VAE and text encoder."""
    where, base = f"bases.{name}", bases[name]
    parent = base["parent"]
    if base["kind"] != "tiny-sd":
        raise ConfigError(f"config key '{where}.parent': only a tiny-sd base has a parent, not a {base['kind']}")
    if parent == name or bases.get(parent, {}).get("kind") != "tiny-sd":
        tiny_sds = ", ".join(sorted(n for n, b in bases.items() if b["kind"] == "tiny-sd" and n != name)) or "none"
        raise ConfigError(f"config key '{where}.parent': '{parent}' is not another tiny-sd entry of 'bases' "
                          f"(tiny-sd: {tiny_sds})")
    seen = {name}
    while "parent" in bases.get(parent, {}):  # a chain of siblings is fine, a loop is not
        if parent in seen:
            raise ConfigError(f"config key '{where}.parent': the parents of '{name}' form a loop")
        seen.add(parent)
        parent = bases[parent]["parent"]
    for key in ("text_encoder", "pretrain.vae_steps"):
        section, _, field = key.rpartition(".")
        if field in (base.get(section, {}) if section else base):
            raise ConfigError(f"config key '{where}.{key}': a base with a parent keeps the parent's "
                              "VAE and text encoder")


def _check_text_encoder(bases: dict, name: str) -> None:
    """A tiny-sd base may condition on the text tower of a tiny-clip base of the same config."""
    where, clip = f"bases.{name}.text_encoder", bases[name]["text_encoder"]
    if bases[name]["kind"] != "tiny-sd":
        raise ConfigError(f"config key '{where}': only a tiny-sd base takes a CLIP text tower")
    if bases.get(clip, {}).get("kind") != "tiny-clip":
        tiny_clips = ", ".join(sorted(n for n, b in bases.items() if b["kind"] == "tiny-clip")) or "none defined"
        raise ConfigError(f"config key '{where}': '{clip}' is not a tiny-clip entry of 'bases' (tiny-clip: {tiny_clips})")


KEYS_OF_KIND = {"data": ("tiny-qwen2",), "wheel": ("gguf",), "file": ("gguf",)}


def _check_language_bases(config: dict) -> None:
    """tiny-qwen2 names the ARC data it learns from; gguf names a `wheels` entry and a file in it."""
    for name, base in config["bases"].items():
        where = f"bases.{name}"
        for key, kinds in KEYS_OF_KIND.items():
            if key in base and base["kind"] not in kinds:
                raise ConfigError(f"config key '{where}.{key}': only {' and '.join(kinds)} bases have it, "
                                  f"not {base['kind']}")
            if key not in base and base["kind"] in kinds:
                raise ConfigError(f"config key '{where}.{key}' is missing: a {base['kind']} base needs it")
        if base["kind"] == "tiny-qwen2":
            source = config["data"].get(base["data"])
            if source is None or source["kind"] not in ARC_DATA_KINDS:
                arcs = ", ".join(n for n, d in config["data"].items() if d["kind"] in ARC_DATA_KINDS) or "none defined"
                raise ConfigError(f"config key '{where}.data': '{base['data']}' is not an ARC entry of 'data' "
                                  f"(ARC entries: {arcs})")
        if base["kind"] == "gguf" and base["wheel"] not in config.get("wheels", {}):
            known = ", ".join(sorted(config.get("wheels", {}))) or "none defined"
            raise ConfigError(f"config key '{where}.wheel': '{base['wheel']}' is not an entry of 'wheels' (known: {known})")


# What an explicitly given root of these data kinds must hold (checked at DAG time: a few stats).
DATA_LAYOUT = {"celeba": ("img_align_celeba", "identity_CelebA.txt", "list_attr_celeba.txt"),
               "imagenette": ("train",)}
PAPER_DOC = "docs/paper-world.md"


def _check_paths(config: dict, base_dir: Path) -> None:
    """Explicit paths must exist when the DAG is built; null ones are left to a fetch/download step.

    So the paper world (roots and base paths null) validates and dry-runs on a machine without
    its data, while a typo in a path a user did give fails at once, naming the key. Only cheap
    checks happen here: existence, and the few entries a CelebA/Imagenette root must hold.
    """
    made_here = {}  # paths into the stand-ins the workflow builds first (issue 20): not there yet
    for section, key in (("data", "root"), ("bases", "path")):
        for name, entry in config[section].items():
            value = entry.get(key)
            folder = standin_folder(config, value)
            if folder is not None:
                if folder.rsplit("/", 1)[1] not in STANDIN_FOLDERS.values():
                    raise ConfigError(f"config key '{section}.{name}.{key}': '{value}' is in {STANDINS_DIR}/ but in "
                                      f"no stand-in folder (the workflow builds {', '.join(STANDIN_FOLDERS.values())})")
                made_here[(section, name)] = folder
                continue
            if value is not None and not (base_dir / value).exists():
                raise ConfigError(f"config key '{section}.{name}.{key}': path '{value}' does not exist "
                                  f"(relative paths are taken from {base_dir})")
    if any(folder.endswith("/" + STANDIN_FOLDERS["lm"]) for folder in made_here.values()):
        texts = config["standins"].get("lm_texts")
        arcs = ", ".join(n for n, d in config["data"].items() if d["kind"] in ARC_DATA_KINDS) or "none defined"
        if texts is None or config["data"].get(texts, {}).get("kind") not in ARC_DATA_KINDS:
            raise ConfigError(f"config key 'standins.lm_texts': the LM stand-in's tokenizer learns the train questions "
                              f"of an ARC entry of 'data'; got {texts!r} (ARC entries: {arcs})")
    for name, entry in config["data"].items():
        root = entry.get("root")
        if root is not None and entry["kind"] in DATA_LAYOUT and ("data", name) not in made_here:
            missing = [part for part in DATA_LAYOUT[entry["kind"]] if not (base_dir / root / part).exists()]
            if missing:
                raise ConfigError(f"config key 'data.{name}.root': '{root}' is not a {entry['kind']} folder "
                                  f"(missing {', '.join(missing)}; see {PAPER_DOC})")
    for name, entry in config["bases"].items():
        if entry["kind"] == "pretrained" and entry.get("name") is None:
            # even with a local path: the name says what the files are (an open_clip architecture)
            raise ConfigError(f"config key 'bases.{name}.name': a pretrained base needs its name (hub repo, "
                              f"or open_clip architecture/tag such as ViT-B-16/openai), also when 'path' is given")


def _check_distribution(spec, where: str) -> None:
    if not isinstance(spec, dict):
        return
    (kind, values), = spec.items()
    if kind in ("uniform", "loguniform", "randint") and values[0] > values[1]:
        raise ConfigError(f"config key '{where}.{kind}': lower bound {values[0]} is above upper bound {values[1]}")


def _check_sources(sources: dict, where: str) -> None:
    overlap = set(sources["never_drop"]) & set(sources["droppable"])
    if overlap:
        raise ConfigError(f"config key '{where}.droppable': {sorted(overlap)} also listed in never_drop")
    n = len(sources["droppable"])
    low, high = sources.setdefault("drop_count", [1, n])
    if not low <= high <= n:
        raise ConfigError(f"config key '{where}.drop_count': need low <= high <= {n} droppable sources, "
                          f"got [{low}, {high}]")
