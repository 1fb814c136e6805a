"""What an export is made of, as its card and its checks see it: the shards and the zoo they hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from lolzoo.zoo.schema import ZooInfo


@dataclass(frozen=True)
class Shard:
    path: str  # relative to the export folder
    split: str  # the hub's split name
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return {"path": self.path, "split": self.split, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class ExportedZoo:
    """What the card is written from: the zoo's schema, its columns but the float bytes, and the shards."""

    folder: Path
    source: Path
    info: ZooInfo
    table: pd.DataFrame  # every column but the float bytes, with zoo_row, in zoo order, plus `split` (the hub's name)
    schema: pa.Schema  # a shard's Arrow schema: every column, the float bytes last
    fractions: tuple[float, float, float]
    shards: tuple[Shard, ...]


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
