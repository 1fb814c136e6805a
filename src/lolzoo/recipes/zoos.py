"""Recipes: a pure, seeded function of the config listing every LoRA of every zoo.

LoRA `i` of zoo `z` draws everything from generators seeded by (config seed, z, i, what
is drawn), never from a shared stream, so its recipe does not depend on the zoo's count
(LoRA 17 keeps its recipe when the zoo grows) nor on hyperparameters added later.
Keep it so: a new drawn value gets its own `what` in rng_for(seed, zoo, index, what), and
nothing here reads a global random state; stable ids are what let a single LoRA, shard or
zoo be asked for and rerun alone.
"""

from __future__ import annotations

import zlib

import numpy as np

from lolzoo.recipes.sampling import draw

ID_WIDTH = 5  # ids look like celeba-00017 whatever the zoo's size


def lora_id(zoo_name: str, index: int) -> str:
    return f"{zoo_name}-{index:0{ID_WIDTH}d}"


def shard_name(lora_ids: list[str]) -> str:
    """`celeba-00000-00049`: the zoo's LoRAs 0..49. The name says which LoRAs a shard holds."""
    return f"{lora_ids[0]}-{lora_ids[-1].rsplit('-', 1)[1]}"


def zoo_shards(zoo_name: str, count: int, size: int) -> dict[str, list[str]]:
    """Shard name -> the lora_ids it holds: consecutive ids, `size` at a time. A shard's
    name depends on its ids only, so growing a zoo adds shards and changes none."""
    ids = [lora_id(zoo_name, index) for index in range(count)]
    return {shard_name(ids[i:i + size]): ids[i:i + size] for i in range(0, count, size)}


def _tag(text: str) -> int:
    return zlib.crc32(text.encode())  # stable across processes, unlike hash()


def rng_for(seed: int, zoo_name: str, index: int, what: str) -> np.random.Generator:
    return np.random.default_rng([seed, _tag(zoo_name), index, _tag(what)])


def lora_seed(seed: int, zoo_name: str, index: int) -> int:
    """The seed a LoRA trains with (init, data order, noise)."""
    return int(rng_for(seed, zoo_name, index, "seed").integers(2**31 - 1))


def zoo_recipes(zoo_name: str, zoo: dict, seed: int) -> list[dict]:
    data_subset = DATA_SUBSETS[zoo["type"]]
    rows = []
    for index in range(zoo["count"]):
        rank = draw(zoo["lora"]["rank"], lambda: rng_for(seed, zoo_name, index, "rank"))
        alpha = zoo["lora"]["alpha"]
        row = {
            "zoo": zoo_name,
            "lora_id": lora_id(zoo_name, index),
            "index": index,
            "seed": lora_seed(seed, zoo_name, index),
            "rank": rank,
            "lora_alpha": rank if alpha is None else alpha,
        }
        for name, spec in zoo["hparams"].items():
            row[name] = draw(spec, lambda: rng_for(seed, zoo_name, index, f"hparam:{name}"))
        row.update(data_subset(zoo_name, zoo, seed, index))
        rows.append(row)
    return rows


def _subject(zoo_name: str, zoo: dict, seed: int, index: int) -> dict:
    # LoRA i is finetuned on the i-th eligible subject, as the paper's code walks its celebrities.
    return {"subject": index, "images": zoo["images_per_lora"]}


def _class_subset(zoo_name: str, zoo: dict, seed: int, index: int) -> dict:
    # Every nonempty subset once, in a seeded order fixed by the class count alone, then every
    # subset again: so a small zoo still sees every class, and 2*(2^C - 1) LoRAs give each twice.
    n_classes = zoo["classes"]
    order = subset_order(seed, zoo_name, n_classes)
    mask = int(order[index % len(order)])
    present = [c for c in range(n_classes) if mask >> c & 1]
    return {
        "classes": "|".join(map(str, present)),
        "num_classes": len(present),
        "replicate": index // len(order),
        "images_per_class": zoo["images_per_class"],
    }


def subset_order(seed: int, zoo_name: str, n_classes: int) -> np.ndarray:
    masks = np.arange(1, 2**n_classes)
    return rng_for(seed, zoo_name, n_classes, "subset-order").permutation(masks)


def _dropped_sources(zoo_name: str, zoo: dict, seed: int, index: int) -> dict:
    sources = zoo["sources"]
    droppable = sources["droppable"]
    low, high = sources["drop_count"]
    rng = rng_for(seed, zoo_name, index, "dropped_sources")
    n_drop = int(rng.integers(low, high + 1))
    chosen = set(rng.choice(len(droppable), size=n_drop, replace=False).tolist())
    dropped = [s for i, s in enumerate(droppable) if i in chosen]
    return {"dropped_sources": "|".join(dropped), "num_dropped": n_drop}


def _no_data(zoo_name: str, zoo: dict, seed: int, index: int) -> dict:
    return {}  # synthetic LoRAs are drawn from their seed alone


DATA_SUBSETS = {
    "synthetic": _no_data,
    "dreambooth-subject": _subject,
    "dreambooth-classes": _class_subset,
    "arc-sources": _dropped_sources,
}


def all_recipes(config: dict, zoos: list[str] | None = None) -> list[dict]:
    """Every LoRA of the named zoos (all by default), zoo by zoo in config order."""
    names = list(config["zoos"]) if zoos is None else zoos
    rows = []
    for name in names:
        rows.extend(zoo_recipes(name, config["zoos"][name], config["seed"]))
    return rows


def recipes_table(rows: list[dict]):
    """Rows as a DataFrame with nullable dtypes: zoos of other types leave cells empty, and
    integers stay integers (no 2.0 for two epochs)."""
    import pandas as pd

    return pd.DataFrame(rows).convert_dtypes()
