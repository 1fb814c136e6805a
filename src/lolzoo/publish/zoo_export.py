"""`lolzoo export`: a zoo file as a Hugging Face dataset folder, readable without lolzoo.

    DIR/README.md                                   the dataset card (zoo_card.py)
    DIR/data/<split>-<iiiii>-of-<nnnnn>.parquet     train / validation / test shards

Rows are split by lolzoo.lol.split.assign_splits (the hash of lora_id, so the export agrees with
every fit), in zoo order within a split; a split without LoRAs has no shard. Shards hold at most
about `shard_bytes` and row groups about 64 MB, so a paper-scale zoo streams.

Columns: lora_id, zoo, base_model, rank, module_ranks, module_alphas, the recipe columns, the
label columns, zoo_row (the row's position in the zoo file), then per module `<name>.U` (n x r_max)
and `<name>.V` (m x r_max), float32 `Array2D` features: exactly the tensors lolzoo.zoo.load_zoo
gives by default, α/r folded into U (so ΔW = U Vᵀ) and lower ranks zero-padded (exact). A DoRA zoo
adds `<name>.magnitude` (n floats). Each shard's schema metadata carries the `datasets` features
(b"huggingface"), the zoo's own schema JSON (b"lolzoo") and what the export changed (b"lolzoo_export").

The whole zoo is loaded once (load_zoo: memory is its padded float32 size); the folder is staged
and renamed at once (lolzoo.io.atomic_dir), so a failed export leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lolzoo import __version__
from lolzoo.io import atomic_dir
from lolzoo.lol.split import DEFAULT_FRACTIONS, assign_splits
from lolzoo.publish.exported import ExportedZoo, Shard, file_sha256
from lolzoo.publish.hf_layout import (CARD, EXPORT_FORMAT_VERSION, EXPORT_METADATA_KEY,
                                      HF_METADATA_KEY, HUB_SPLITS, ROW_COLUMN, ExportFormatError, array2d_feature, array2d_field,
                                      feature_of, hf_metadata, shard_path, vector_feature, weight_column)
from lolzoo.publish.zoo_card import CardContext, render_card
from lolzoo.zoo.load import Zoo, load_zoo
from lolzoo.zoo.schema import MAGNITUDES_COLUMN, METADATA_KEY, WEIGHTS_COLUMN, ZooInfo

DEFAULT_SHARD_BYTES = 500_000_000  # the hub's advice for Parquet shards
ROW_GROUP_BYTES = 64 << 20


def export_zoo(zoo_path: str | os.PathLike, out: str | os.PathLike, *,
               fractions: Sequence[float] = DEFAULT_FRACTIONS, shard_bytes: float = DEFAULT_SHARD_BYTES,
               overwrite: bool = False, context: CardContext | None = None) -> ExportedZoo:
    """Write the export folder; README.md is zoo_card.render_card's, with `context` (config, reliability)."""
    zoo_path, out = Path(zoo_path), Path(out)
    _check_out(out, overwrite)
    if not shard_bytes > 0:
        raise ExportFormatError(f"--shard-bytes must be positive, got {shard_bytes}")
    zoo = load_zoo(zoo_path)
    plain = _plain_columns(zoo_path)
    splits = np.array([HUB_SPLITS[s] for s in
                       assign_splits(zoo.lora_ids, fractions, require_nonempty=False)], dtype=object)
    layout = _WeightLayout(zoo)
    layout.check_names(plain.schema.names)
    schema = _shard_schema(zoo.info, plain.schema, layout, tuple(float(f) for f in fractions))
    row_bytes = layout.row_bytes + max(1, plain.nbytes // max(1, len(zoo)))
    rows_per_group = max(1, ROW_GROUP_BYTES // row_bytes)

    shards = []
    with atomic_dir(out, overwrite=overwrite) as staging:
        (staging / "data").mkdir()
        for split in HUB_SPLITS.values():
            rows = np.flatnonzero(splits == split)
            if not len(rows):
                continue
            count = math.ceil(len(rows) * row_bytes / shard_bytes)
            for index, part in enumerate(np.array_split(rows, count)):
                relative = shard_path(split, index, count)
                _write_shard(staging / relative, schema, plain, layout, part, rows_per_group)
                shards.append(Shard(relative, split, len(part), (staging / relative).stat().st_size,
                                    file_sha256(staging / relative)))
        exported = ExportedZoo(out, zoo_path, zoo.info, plain.to_pandas().assign(split=splits), plain.schema,
                               layout.names, zoo.r_max, tuple(float(f) for f in fractions), tuple(shards))
        (staging / CARD).write_text(render_card(exported, context), encoding="utf-8")
    return exported


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportFormatError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportFormatError(f"--out {out} exists and is not empty; pass --overwrite to replace it")


def _plain_columns(zoo_path: Path) -> pa.Table:
    """Every column but the weights, with the zoo file's own Arrow types, then zoo_row."""
    names = [n for n in pq.read_schema(zoo_path).names if n not in (WEIGHTS_COLUMN, MAGNITUDES_COLUMN)]
    if ROW_COLUMN in names:
        raise ExportFormatError(f"{zoo_path}: the zoo has a column {ROW_COLUMN!r}, which the export adds itself")
    table = pq.read_table(zoo_path, columns=names).replace_schema_metadata(None)
    return table.append_column(pa.field(ROW_COLUMN, pa.int64(), nullable=False),
                               pa.array(np.arange(len(table), dtype=np.int64)))


class _WeightLayout:
    """The weight columns of a zoo: names, `datasets` features and their Arrow arrays per rows."""

    def __init__(self, zoo: Zoo):
        self.zoo = zoo
        r = zoo.r_max
        columns = []  # (name, feature, Arrow field, tensor)
        for k, spec in enumerate(zoo.modules):
            for part, height, tensor in (("U", spec.n, zoo.U[k]), ("V", spec.m, zoo.V[k])):
                name = weight_column(spec.name, part)
                columns.append((name, array2d_feature(height, r), array2d_field(name, height, r), tensor))
            if zoo.magnitudes is not None:
                name = weight_column(spec.name, "magnitude")
                columns.append((name, vector_feature(spec.n), pa.field(name, pa.list_(pa.float32(), spec.n)),
                                zoo.magnitudes[k]))
        self.columns = columns
        self.names = tuple(c[0] for c in columns)
        self.row_bytes = 4 * sum(math.prod(c[3].shape[1:]) for c in columns)

    def check_names(self, plain: list[str]) -> None:
        clashes = sorted(set(self.names) & set(plain))
        if clashes or len(set(self.names)) != len(self.names):
            raise ExportFormatError(f"weight column names clash with other columns or each other: "
                                    f"{clashes or self.names}")

    def features(self) -> dict:
        return {name: feature for name, feature, _, _ in self.columns}

    def fields(self) -> list[pa.Field]:
        return [field for _, _, field, _ in self.columns]

    def arrays(self, rows: np.ndarray) -> list[pa.Array]:
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        arrays = []
        for _, _, field, tensor in self.columns:
            block = tensor[index].contiguous().numpy()
            flat = pa.array(block.reshape(-1), pa.float32())
            if pa.types.is_fixed_size_list(field.type):  # a magnitude vector per row
                arrays.append(pa.FixedSizeListArray.from_arrays(flat, field.type.list_size))
                continue
            count, height, width = block.shape
            inner = pa.ListArray.from_arrays(pa.array(np.arange(0, count * height * width + 1, width, dtype=np.int32)),
                                             flat)
            arrays.append(pa.ListArray.from_arrays(pa.array(np.arange(0, count * height + 1, height, dtype=np.int32)),
                                                   inner))
        return arrays


def _shard_schema(info: ZooInfo, plain: pa.Schema, layout: _WeightLayout, fractions) -> pa.Schema:
    features = {field.name: feature_of(field.type, field.name) for field in plain}
    features.update(layout.features())
    export = {"format_version": EXPORT_FORMAT_VERSION, "lolzoo_version": __version__, "scaling_folded": True,
              "r_max": layout.zoo.r_max, "split_fractions": list(fractions), "row_column": ROW_COLUMN,
              "weight_columns": list(layout.names)}
    # nullable like every `datasets` feature: it keeps a declared feature only when the field equals it
    fields = [field.with_nullable(True) for field in plain]
    return pa.schema(fields + layout.fields(), metadata={
        HF_METADATA_KEY: hf_metadata(features),
        METADATA_KEY: info.to_json(),
        EXPORT_METADATA_KEY: json.dumps(export, sort_keys=True).encode(),
    })


def _write_shard(path: Path, schema: pa.Schema, plain: pa.Table, layout: _WeightLayout, rows: np.ndarray,
                 rows_per_group: int) -> None:
    weights = set(layout.names)
    leaves = _leaf_paths(schema)
    small = [leaf for leaf, field in leaves if field not in weights]
    # floats do not compress, and no codec or statistics keeps reading them a copy
    with pq.ParquetWriter(path, schema, compression={leaf: ("zstd" if field not in weights else "none")
                                                     for leaf, field in leaves},
                          use_dictionary=small, write_statistics=small) as writer:
        for start in range(0, len(rows), rows_per_group):
            part = rows[start:start + rows_per_group]
            columns = plain.take(pa.array(part)).columns + layout.arrays(part)
            writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=len(part))


def _leaf_paths(schema: pa.Schema) -> list[tuple[str, str]]:
    """(Parquet leaf column path, top-level field) for every leaf; per-column writer options need the paths
    and a weight column's name holds dots, so each field's leaves are found from that field alone."""
    import io

    found = []
    for field in schema:
        sink = io.BytesIO()
        pq.write_table(pa.schema([field]).empty_table(), sink)
        parquet_schema = pq.read_metadata(io.BytesIO(sink.getvalue())).schema
        found += [(parquet_schema.column(i).path, field.name) for i in range(len(parquet_schema))]
    return found
