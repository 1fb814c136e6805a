"""`lolzoo export`: a zoo file as a Hugging Face dataset folder, readable without lolzoo.

    DIR/README.md                                   the dataset card (zoo_card.py)
    DIR/data/<split>-<iiiii>-of-<nnnnn>.parquet     train / validation / test shards

Rows are split by lolzoo.lol.split.assign_splits (the hash of lora_id, so the export agrees with
every fit), in zoo order within a split; a split without LoRAs has no shard. Shards hold about
`shard_bytes` at most and row groups about 64 MB.

Columns: the zoo file's own, with its Arrow types (lolzoo.zoo.schema): lora_id, zoo, base_model,
rank, module_ranks, module_alphas, the recipe and label columns, then zoo_row (the row's position
in the zoo file), then (DoRA) magnitudes and weights, the zoo's large_binary bytes as they are:
per module Uᵀ (r x n) then Vᵀ (r x m), float32, α/r not folded. The card prints the decoder.
One bytes column rather than per-module Array2D columns: 10-60x faster into torch, no rank padding
(benchmarks/export_formats.py). Each shard's schema metadata carries the `datasets` features
(b"huggingface"), the zoo's own schema JSON (b"lolzoo") and the export's settings (b"lolzoo_export").

Streams: the zoo is read one row group at a time and each split's rows go to their shard, so memory
is a few row groups whatever the zoo's size (imagenette, 64 MB row groups: a 240 MB Arrow peak, half of
it pyarrow reading a row group's bytes into buffers twice their size). The folder is staged and renamed at once
(lolzoo.io.atomic_dir), so a failed export leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lolzoo import __version__
from lolzoo.io import atomic_dir
from lolzoo.lol.split import DEFAULT_FRACTIONS, assign_splits
from lolzoo.publish.exported import ExportedZoo, Shard, file_sha256
from lolzoo.publish.hf_layout import (CARD, EXPORT_FORMAT_VERSION, EXPORT_METADATA_KEY, HF_METADATA_KEY, HUB_SPLITS,
                                      ROW_COLUMN, ExportFormatError, feature_of, hf_metadata,
                                      shard_path)
from lolzoo.publish.zoo_card import CardContext, render_card
from lolzoo.zoo.load import read_zoo_info
from lolzoo.zoo.pack import DEFAULT_ROW_GROUP_BYTES, parquet_writer
from lolzoo.zoo.schema import MAGNITUDES_COLUMN, METADATA_KEY, WEIGHTS_COLUMN, ZooInfo

DEFAULT_SHARD_BYTES = 500_000_000  # the hub's advice for Parquet shards
BINARY_COLUMNS = (MAGNITUDES_COLUMN, WEIGHTS_COLUMN)  # float bytes: last, uncompressed


@dataclass(frozen=True)
class _PlannedShard:
    path: str  # relative to the export folder
    split: str
    rows: np.ndarray  # positions in the zoo file, ascending


def export_zoo(zoo_path: str | os.PathLike, out: str | os.PathLike, *,
               fractions: Sequence[float] = DEFAULT_FRACTIONS, shard_bytes: float = DEFAULT_SHARD_BYTES,
               overwrite: bool = False, context: CardContext | None = None) -> ExportedZoo:
    """Write the export folder; README.md is zoo_card.render_card's, with `context` (config, reliability)."""
    zoo_path, out = Path(zoo_path), Path(out)
    _check_out(out, overwrite)
    if not shard_bytes > 0:
        raise ExportFormatError(f"--shard-bytes must be positive, got {shard_bytes}")
    fractions = tuple(float(f) for f in fractions)
    info = read_zoo_info(zoo_path)
    parquet = pq.ParquetFile(zoo_path)
    plain = _plain_columns(parquet, zoo_path)
    splits = np.array([HUB_SPLITS[s] for s in assign_splits(plain.column("lora_id").to_pylist(), fractions,
                                                            require_nonempty=False)], dtype=object)
    plan = _plan_shards(splits, _row_bytes(info, plain), shard_bytes)
    schema = _shard_schema(parquet.schema_arrow, fractions)

    with atomic_dir(out, overwrite=overwrite) as staging:
        (staging / "data").mkdir()
        _ShardWriters(staging, schema, plan, len(plain)).write(parquet)
        shards = tuple(Shard(p.path, p.split, len(p.rows), (staging / p.path).stat().st_size,
                             file_sha256(staging / p.path)) for p in plan)
        exported = ExportedZoo(out, zoo_path, info, plain.to_pandas().assign(split=splits), schema, fractions, shards)
        (staging / CARD).write_text(render_card(exported, context), encoding="utf-8")
    return exported


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportFormatError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportFormatError(f"--out {out} exists and is not empty; pass --overwrite to replace it")


def _plain_columns(parquet: pq.ParquetFile, zoo_path: Path) -> pa.Table:
    """Every column but the float bytes (a few bytes a row: read at once, for the splits and the card),
    with the zoo file's own Arrow types, then zoo_row."""
    names = [n for n in parquet.schema_arrow.names if n not in BINARY_COLUMNS]
    if ROW_COLUMN in names:
        raise ExportFormatError(f"{zoo_path}: the zoo has a column {ROW_COLUMN!r}, which the export adds itself")
    table = parquet.read(columns=names).replace_schema_metadata(None)
    return table.append_column(pa.field(ROW_COLUMN, pa.int64(), nullable=False),
                               pa.array(np.arange(len(table), dtype=np.int64)))


def _row_bytes(info: ZooInfo, plain: pa.Table) -> np.ndarray:
    """Each row's bytes in a shard, from its module ranks (no weight is read): 4 Σ_k r_k (n_k + m_k)
    floats of weights, the magnitudes of a DoRA zoo, and an even share of the other columns."""
    count, modules = len(plain), len(info.modules)
    ranks = pc.list_flatten(plain.column("module_ranks")).to_numpy()
    if ranks.size != count * modules:
        raise ExportFormatError(f"module_ranks does not list {modules} ranks in every row")
    floats = ranks.reshape(count, modules).astype(np.int64) @ np.array([s.n + s.m for s in info.modules])
    if info.dora:
        floats += sum(s.n for s in info.modules)
    return 4 * floats + max(1, plain.nbytes // max(1, count))


def _plan_shards(splits: np.ndarray, row_bytes: np.ndarray, shard_bytes: float) -> list[_PlannedShard]:
    """Every shard's rows, known before any is written (their names say how many there are)."""
    plan = []
    for split in HUB_SPLITS.values():
        rows = np.flatnonzero(splits == split)
        if not len(rows):
            continue
        parts = _even_parts(row_bytes[rows], shard_bytes)
        plan += [_PlannedShard(shard_path(split, i, len(parts)), split, rows[part]) for i, part in enumerate(parts)]
    return plan


def _even_parts(sizes: np.ndarray, cap: float) -> list[slice]:
    """Consecutive rows cut into the fewest parts of about `cap` bytes at most, of about equal bytes
    (not a full shard and a leftover), none empty."""
    count = min(len(sizes), max(1, math.ceil(int(sizes.sum()) / cap)))
    ends = np.cumsum(sizes)
    cuts = [0]
    for i in range(1, count):
        cut = int(np.searchsorted(ends, ends[-1] * i / count)) + 1
        cuts.append(min(max(cut, cuts[-1] + 1), len(sizes) - (count - i)))
    cuts.append(len(sizes))
    return [slice(a, b) for a, b in zip(cuts, cuts[1:])]


def _shard_schema(zoo_schema: pa.Schema, fractions: tuple[float, ...]) -> pa.Schema:
    """The zoo's fields with zoo_row before the float bytes; nullable, as `datasets` keeps a declared
    feature only when the field equals the feature's own (nullable) one."""
    binary = [field for field in zoo_schema if field.name in BINARY_COLUMNS]
    fields = [field for field in zoo_schema if field.name not in BINARY_COLUMNS]
    fields = [f.with_nullable(True) for f in fields + [pa.field(ROW_COLUMN, pa.int64())] + binary]
    features = {field.name: feature_of(field.type, field.name) for field in fields}
    export = {"format_version": EXPORT_FORMAT_VERSION, "lolzoo_version": __version__,
              "split_fractions": list(fractions), "row_column": ROW_COLUMN}
    return pa.schema(fields, metadata={
        HF_METADATA_KEY: hf_metadata(features),
        METADATA_KEY: zoo_schema.metadata[METADATA_KEY],  # the zoo's own JSON, byte for byte
        EXPORT_METADATA_KEY: json.dumps(export, sort_keys=True).encode(),
    })


class _ShardWriters:
    """Sends each zoo row group's rows to their shards. A shard's rows wait in a buffer; when all
    buffers together pass one row group's bytes, the largest is written as a row group, so memory
    holds the row group read (or its pieces) and one row group of buffers, however many shards are open."""

    def __init__(self, folder: Path, schema: pa.Schema, plan: list[_PlannedShard], count: int):
        self.folder, self.schema, self.plan = folder, schema, plan
        self.shard_of = np.empty(count, dtype=np.int64)
        for s, planned in enumerate(plan):
            self.shard_of[planned.rows] = s
        self.buffers: dict[int, list[pa.Table]] = {}
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.left = [len(p.rows) for p in plan]  # rows not yet sent to each shard

    def write(self, parquet: pq.ParquetFile) -> None:
        start = 0
        try:
            for g in range(parquet.num_row_groups):
                group = parquet.read_row_group(g)
                rows = np.arange(start, start + len(group), dtype=np.int64)
                group = group.append_column(ROW_COLUMN, pa.array(rows))
                group = pa.Table.from_arrays([group.column(n) for n in self.schema.names], schema=self.schema)
                shards = self.shard_of[rows]
                pieces = [(int(s), group.take(pa.array(np.flatnonzero(shards == s)))) for s in np.unique(shards)]
                start += len(group)
                del group  # the pieces are copies: free the row group read before any buffer is written
                while pieces:  # popped, so a written piece is freed at once
                    self._add(*pieces.pop(0))
        finally:
            for writer in self.writers.values():
                writer.close()

    def _add(self, s: int, rows: pa.Table) -> None:
        self.buffers.setdefault(s, []).append(rows)
        self.left[s] -= len(rows)
        if self.left[s] == 0:  # the shard is complete
            self._flush(s)
            self.writers.pop(s).close()
        while sum(t.nbytes for b in self.buffers.values() for t in b) > DEFAULT_ROW_GROUP_BYTES:
            self._flush(max(self.buffers, key=lambda b: sum(t.nbytes for t in self.buffers[b])))

    def _flush(self, s: int) -> None:
        if s not in self.writers:
            self.writers[s] = parquet_writer(self.folder / self.plan[s].path, self.schema, BINARY_COLUMNS)
        table = pa.concat_tables(self.buffers.pop(s))
        self.writers[s].write_table(table, row_group_size=len(table))
