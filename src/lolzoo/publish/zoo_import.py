"""`lolzoo import-zoo`: an export folder, checked against its card, back into one lolzoo zoo file.

The shards hold the zoo's own columns and bytes, so import only undoes what the export added: the
rows go back into the zoo's order (zoo_row, then dropped), the columns get the zoo's schema again
(lolzoo.zoo.schema.zoo_schema: the export declares every column nullable for `datasets`) and its
own b"lolzoo" JSON, byte for byte. The file is the table of the original zoo: load_zoo gives the
same tensors, scales, magnitudes and table, module_alphas included.

The whole export is read at once (import is a rare, whole-zoo operation); the file is written with
lolzoo.zoo.pack's writer settings and row groups, and appears only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lolzoo.io import atomic_file
from lolzoo.publish.export_check import CheckedExport, ExportCheckError, check_export
from lolzoo.publish.hf_layout import ROW_COLUMN
from lolzoo.zoo.pack import DEFAULT_ROW_GROUP_BYTES, PackSummary, parquet_writer
from lolzoo.zoo.schema import METADATA_KEY, WEIGHTS_COLUMN, zoo_schema


def import_export(folder: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False) -> PackSummary:
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportCheckError(f"--out {out} exists; pass --overwrite to replace it")
    checked = check_export(folder)
    table = _rows_in_zoo_order(checked)
    schema = _zoo_schema(checked, table.schema)
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ExportCheckError(f"{checked.folder}: the shards lack the zoo's columns {missing}")
    table = pa.Table.from_arrays([table.column(name) for name in schema.names], schema=schema)
    weight_bytes = pc.binary_length(table.column(WEIGHTS_COLUMN)).to_numpy().astype(np.int64)
    with atomic_file(out) as tmp, parquet_writer(tmp, schema, (WEIGHTS_COLUMN,)) as writer:
        for rows in _row_groups(weight_bytes):
            part = table.slice(rows.start, rows.stop - rows.start)
            writer.write_table(part, row_group_size=len(part))
    return PackSummary(out, len(table), int(weight_bytes.sum()), checked.info)


def _rows_in_zoo_order(checked: CheckedExport) -> pa.Table:
    table = pa.concat_tables([pq.read_table(checked.folder / shard.path) for shard in checked.shards])
    rows = table.column(ROW_COLUMN).to_numpy()
    if not np.array_equal(np.sort(rows), np.arange(len(rows))):
        raise ExportCheckError(f"{checked.folder}: the shards' {ROW_COLUMN} values are not the rows 0..{len(rows) - 1} "
                               "of one zoo")
    return table.take(pa.array(np.argsort(rows, kind="stable"))).drop_columns([ROW_COLUMN])


def _zoo_schema(checked: CheckedExport, shard_schema: pa.Schema) -> pa.Schema:
    """The schema pack wrote: its fixed columns, the shards' recipe and label fields, the float bytes."""
    info = checked.info
    extra = [shard_schema.field(name) for name in (*info.recipe_columns, *info.label_columns)
             if name in shard_schema.names]
    return zoo_schema(info, extra).with_metadata({METADATA_KEY: shard_schema.metadata[METADATA_KEY]})


def _row_groups(weight_bytes: np.ndarray) -> list[slice]:
    """pack's row groups: each closes at the row that brings its weights to DEFAULT_ROW_GROUP_BYTES."""
    groups, start, buffered = [], 0, 0
    for i, size in enumerate(weight_bytes):
        buffered += int(size)
        if buffered >= DEFAULT_ROW_GROUP_BYTES:
            groups.append(slice(start, i + 1))
            start, buffered = i + 1, 0
    if start < len(weight_bytes):
        groups.append(slice(start, len(weight_bytes)))
    return groups
