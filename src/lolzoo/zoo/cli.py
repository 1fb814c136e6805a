"""`lolzoo pack --loras DIR [DIR ...] --labels LABELS.csv --out ZOO.parquet`: one Parquet zoo from folders of LoRAs.

Every folder or `.safetensors` file directly under a DIR is one LoRA (PEFT folder, diffusers
or kohya file); its name without the suffix is the lora_id. Several DIRs (a zoo's shards)
are read in the order given. Other files (a shard's shard.json) are not LoRAs and are
skipped. LoRAs are read one at a time and streamed into the zoo, so memory stays bounded
whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from lolzoo.errors import UserError

SUFFIX = ".safetensors"


def add_arguments(parser) -> None:
    parser.add_argument("--loras", required=True, type=Path, nargs="+",
                        help="folder(s) holding one LoRA folder or .safetensors file per LoRA")
    parser.add_argument("--labels", type=Path, help="CSV with a lora_id column and one column per label")
    parser.add_argument("--out", required=True, type=Path, help="the zoo file to write (.parquet)")
    parser.add_argument("--recipes", type=Path, help="CSV of recipes (lora_id + hyperparameters), e.g. from `lolzoo recipes`")
    parser.add_argument("--zoo", help="zoo name (default: the zoo the recipes give these LoRAs, else the --out file's stem)")
    parser.add_argument("--base-model", help="base model name (default: --base's name, else the one the LoRAs name)")
    parser.add_argument("--base", type=Path,
                        help="the base folder the LoRAs were trained on: its name, kind and the sha256 of its "
                             "weights are recorded in the zoo (lolzoo.bases.identity)")
    parser.add_argument("--provenance", type=Path,
                        help="JSON from the workflow: the world, the config part the zoo was made from "
                             "(zoo_config) and its sha256 (config_sha256); recorded in the zoo")
    parser.add_argument("--only-labelled", action="store_true",
                        help="pack exactly the LoRAs the labels list (others under --loras are left out; "
                             "a listed one that is missing is an error)")
    parser.add_argument("--allow-missing-labels", action="store_true",
                        help="store null labels for LoRAs without a label row instead of failing")


def run(args) -> int:
    from lolzoo.zoo.pack import pack_zoo

    sources: dict[str, Path] = {}
    for folder in args.loras:
        if not folder.is_dir():
            raise UserError(f"--loras {folder} is not a folder")
        found = lora_sources(folder)
        if not found:
            raise UserError(f"--loras {folder} holds no LoRA folders or files")
        for lora_id, path in found.items():
            if lora_id in sources:
                raise UserError(f"{sources[lora_id]} and {path} both give lora_id {lora_id!r}")
            sources[lora_id] = path
    labels = read_id_table(args.labels) if args.labels else None
    if args.only_labelled:
        sources = labelled_sources(sources, labels, " ".join(map(str, args.loras)))
    recipes = read_id_table(args.recipes) if args.recipes else None
    summary = pack_zoo(read_each(sources), labels, args.out, zoo_name(args, recipes, sources), args.base_model,
                       recipes=recipes, allow_missing_labels=args.allow_missing_labels,
                       provenance=provenance(args.base, args.provenance))
    print(f"packed {summary.num_loras} LoRAs ({summary.weight_bytes / 1e6:.1f} MB of weights, "
          f"{len(summary.info.modules)} modules) into {summary.path}")
    return 0


def provenance(base: Path | None, given: Path | None) -> dict:
    """What the zoo records of its making: this lolzoo's version, the workflow's JSON, the base's identity."""
    import json

    from lolzoo import __version__
    from lolzoo.bases.identity import base_identity

    record = {"lolzoo_version": __version__}
    if given is not None:
        try:
            record.update(json.loads(given.read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise UserError(f"--provenance {given}: not a readable JSON file ({err})") from err
    if base is not None:
        record["base"] = base_identity(base)
    return record


def lora_sources(folder: Path) -> dict[str, Path]:
    """lora_id -> path, in sorted order; hidden entries (.DS_Store, .tmp leftovers) and
    files other than .safetensors (a shard's shard.json) are skipped."""
    sources = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or (path.is_file() and not path.name.endswith(SUFFIX)):
            continue
        lora_id = path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
        if lora_id in sources:
            raise UserError(f"{sources[lora_id]} and {path} both give lora_id {lora_id!r}")
        sources[lora_id] = path
    return sources


def labelled_sources(sources: dict[str, Path], labels: pd.DataFrame | None, folder: str) -> dict[str, Path]:
    """Only the LoRAs the label table lists: a folder may hold leftovers of a larger zoo."""
    if labels is None:
        raise UserError("--only-labelled needs --labels")
    wanted = list(dict.fromkeys(labels["lora_id"]))
    missing = [lora_id for lora_id in wanted if lora_id not in sources]
    if missing:
        raise UserError(f"{len(missing)} labelled LoRA(s) are not under {folder}: {', '.join(missing[:5])}")
    return {lora_id: sources[lora_id] for lora_id in wanted}


def read_each(sources: dict[str, Path]) -> Iterator[tuple[str, object]]:
    from lolzoo.lora import read_lora

    for lora_id, path in sources.items():
        yield lora_id, read_lora(path)


def read_id_table(path: Path) -> pd.DataFrame:
    # ids stay strings: "00017" must not become 17
    return pd.read_csv(path, dtype={"lora_id": str})


def zoo_name(args, recipes: pd.DataFrame | None, sources: dict[str, Path]) -> str:
    """--zoo, else the one zoo the recipes give these LoRAs (a recipes CSV may list every zoo), else --out's stem."""
    if args.zoo:
        return args.zoo
    if recipes is not None and "zoo" in recipes.columns:
        zoos = recipes.loc[recipes["lora_id"].isin(list(sources)), "zoo"].dropna().unique()
        if len(zoos) == 1:
            return str(zoos[0])
    return args.out.name.removesuffix(".parquet")
