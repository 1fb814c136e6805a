"""`lolzoo export ZOO.parquet --out DIR [--split 0.8,0.1,0.1] [--shard-bytes N] [--config YAML]
[--reliability JSON] [--overwrite]`: a zoo as a Hugging Face dataset folder (zoo_export.py).

--config supplies the recipe distributions and evaluation settings of a zoo that does not record
them (packed before provenance existed); --reliability adds each label's measured reliability
(results/report/<zoo>/reliability.json, `lolzoo reliability`).
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    from lolzoo.publish.zoo_export import DEFAULT_SHARD_BYTES

    parser.add_argument("zoo", type=Path, help="the zoo file (.parquet) to export")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write (new or empty)")
    parser.add_argument("--split", default=None,
                        help="train,val,test fractions of the id hash (default 0.8,0.1,0.1: the fits' own)")
    parser.add_argument("--shard-bytes", type=float, default=DEFAULT_SHARD_BYTES,
                        help=f"largest shard, about (default {DEFAULT_SHARD_BYTES:.0e})")
    parser.add_argument("--config", type=Path,
                        help="the world's config, for a zoo that does not record the config it was made from")
    parser.add_argument("--reliability", type=Path, help="the zoo's reliability.json (lolzoo reliability)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    from lolzoo.lol.split import DEFAULT_FRACTIONS, parse_fractions
    from lolzoo.publish.zoo_card import CardContext
    from lolzoo.publish.zoo_export import export_zoo

    if not args.zoo.is_file():
        raise UserError(f"no zoo file {args.zoo}")
    fractions = parse_fractions(args.split) if args.split else DEFAULT_FRACTIONS
    context = CardContext(*_config(args.config), *_reliability(args.reliability, args.zoo))
    exported = export_zoo(args.zoo, args.out, fractions=fractions, shard_bytes=args.shard_bytes,
                          overwrite=args.overwrite, context=context)
    total = sum(shard.bytes for shard in exported.shards)
    print(f"exported {len(exported.table)} LoRAs of zoo {exported.info.zoo} into {args.out}: "
          f"{len(exported.shards)} shards ({total / 1e6:.1f} MB) and README.md")
    return 0


def _config(path: Path | None) -> tuple[dict | None, str | None]:
    if path is None:
        return None, None
    from lolzoo.config.load import load_config

    return load_config(path), str(path)


def _reliability(path: Path | None, zoo_path: Path) -> tuple[dict | None, str | None]:
    if path is None:
        return None, None
    from lolzoo.report.ceilings import read_reliability
    from lolzoo.zoo.load import read_zoo_info

    found = read_reliability([path])
    zoo = read_zoo_info(zoo_path).zoo
    if zoo not in found:
        raise UserError(f"--reliability {path} is about zoo {', '.join(found)}, not {zoo}")
    return found[zoo], str(path)
