"""Is a folder an intact `lolzoo export`? The card and every shard are checked against each other.

Refused, with a message naming the file: no README.md; front matter that does not parse or has no
`lolzoo:` block listing the shards; a listed shard that is missing, of another size, sha256 or row
count; a Parquet file under data/ that the card does not list; a shard without lolzoo's schema
metadata, of another export format (1: per-module Array2D columns, from an older lolzoo), or whose
zoo schema or base hash differs from the card's or the other shards'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lolzoo.errors import LolzooError
from lolzoo.publish.card_text import CardError, split_card
from lolzoo.publish.exported import Shard, file_sha256
from lolzoo.publish.hf_layout import CARD, DATA_DIR, EXPORT_FORMAT_VERSION, EXPORT_METADATA_KEY
from lolzoo.zoo.schema import METADATA_KEY, ZooFormatError, ZooInfo


class ExportCheckError(LolzooError):
    """An export folder whose card and shards do not agree; the message names the file."""


@dataclass(frozen=True)
class CheckedExport:
    folder: Path
    card: dict  # the front matter's `lolzoo:` block
    shards: tuple[Shard, ...]
    info: ZooInfo  # the zoo's schema, as every shard carries it
    export: dict  # the shards' b"lolzoo_export" metadata (format version, split fractions, row column)


def check_export(folder: str | Path) -> CheckedExport:
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportCheckError(f"{folder}: no such export folder")
    card_path = folder / CARD
    if not card_path.is_file():
        raise ExportCheckError(f"{card_path}: missing; an export folder has its dataset card "
                               f"(written by lolzoo export), which lists and hashes the shards")
    try:
        front, _ = split_card(card_path.read_text(encoding="utf-8"), str(card_path))
    except CardError as err:
        raise ExportCheckError(str(err)) from err
    block = front.get("lolzoo")
    if not isinstance(block, dict) or not isinstance(block.get("shards"), list) or not block["shards"]:
        raise ExportCheckError(f"{card_path}: the front matter has no `lolzoo:` block listing the shards")
    shards = tuple(_listed_shard(entry, card_path) for entry in block["shards"])
    _check_unlisted(folder, shards, card_path)
    info, export = None, None
    for shard in shards:
        shard_info, shard_export = _check_shard(folder, shard, card_path)
        if info is None:
            info, export = shard_info, shard_export
        elif shard_info != info or shard_export != export:
            raise ExportCheckError(f"{folder / shard.path}: its zoo schema differs from {folder / shards[0].path}'s")
    _check_against_card(block, info, card_path, folder / shards[0].path)
    return CheckedExport(folder, block, shards, info, export)


def _listed_shard(entry, card_path: Path) -> Shard:
    try:
        shard = Shard(str(entry["path"]), str(entry["split"]), int(entry["rows"]), int(entry["bytes"]),
                      str(entry["sha256"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ExportCheckError(f"{card_path}: a shard entry without path, split, rows, bytes and sha256: "
                               f"{entry!r}") from err
    if Path(shard.path).is_absolute() or ".." in Path(shard.path).parts:
        raise ExportCheckError(f"{card_path}: shard path {shard.path!r} leaves the export folder")
    return shard


def _check_unlisted(folder: Path, shards: tuple[Shard, ...], card_path: Path) -> None:
    listed = {shard.path for shard in shards}
    found = sorted(p.relative_to(folder).as_posix() for p in (folder / DATA_DIR).rglob("*.parquet"))
    unlisted = [path for path in found if path not in listed]
    if unlisted:
        raise ExportCheckError(f"{folder / unlisted[0]}: a shard that {card_path} does not list "
                               f"({len(unlisted)} unlisted); the card and the shards are from different exports")


def _check_shard(folder: Path, shard: Shard, card_path: Path) -> tuple[ZooInfo, dict]:
    path = folder / shard.path
    if not path.is_file():
        raise ExportCheckError(f"{path}: missing (listed in {card_path})")
    size = path.stat().st_size
    if size != shard.bytes:
        raise ExportCheckError(f"{path}: {size} bytes, the card says {shard.bytes}: damaged or replaced")
    if file_sha256(path) != shard.sha256:
        raise ExportCheckError(f"{path}: its sha256 differs from the card's: damaged or replaced")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ExportCheckError(f"{path}: not a Parquet file ({err})") from err
    if parquet.metadata.num_rows != shard.rows:
        raise ExportCheckError(f"{path}: {parquet.metadata.num_rows} rows, the card says {shard.rows}")
    metadata = parquet.schema_arrow.metadata or {}
    if METADATA_KEY not in metadata or EXPORT_METADATA_KEY not in metadata:
        raise ExportCheckError(f"{path}: no lolzoo schema metadata: not a shard of lolzoo export")
    try:
        info, export = ZooInfo.from_schema(parquet.schema_arrow, str(path)), json.loads(metadata[EXPORT_METADATA_KEY])
    except (ZooFormatError, json.JSONDecodeError) as err:
        raise ExportCheckError(str(err)) from err
    version = export.get("format_version") if isinstance(export, dict) else None
    if version != EXPORT_FORMAT_VERSION:
        raise ExportCheckError(f"{path}: export format {version}, this lolzoo imports format {EXPORT_FORMAT_VERSION} "
                               "(the zoo's own bytes column); export the zoo again")
    return info, export


def _check_against_card(block: dict, info: ZooInfo, card_path: Path, shard_path: Path) -> None:
    """The card's zoo and base hash are the shards' (a card copied from another export is refused)."""
    base = (info.provenance or {}).get("base") or {}
    card_base = block.get("base") or {}
    if card_base.get("sha256") != base.get("sha256"):
        raise ExportCheckError(f"{card_path}: the card's base sha256 {card_base.get('sha256')} is not the "
                               f"shards' {base.get('sha256')} ({shard_path})")
    if block.get("zoo") != info.zoo:
        raise ExportCheckError(f"{card_path}: the card is about zoo {block.get('zoo')!r}, the shards about "
                               f"{info.zoo!r} ({shard_path})")
