"""`lolzoo import-zoo`: an export folder, checked against its card, back into one lolzoo zoo file.

The same LoRAs in the zoo's order (zoo_row), the same other columns with their Arrow types, the same
schema info and provenance. The export's weights have α/r folded into U, so the zoo file keeps them
so: every module's alpha is written as null (scale 1) and `extra["export"]` records the folding;
load_zoo then gives exactly the tensors of the original zoo (unpadded to each row's module_ranks
and padded again on loading, which is exact).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lolzoo.lora.types import Lora, LoraModule, module_key
from lolzoo.publish.export_check import CheckedExport, ExportCheckError, check_export
from lolzoo.publish.hf_layout import ROW_COLUMN, weight_column
from lolzoo.zoo.pack import PackSummary, pack_zoo
from lolzoo.zoo.schema import ID_COLUMN, ModuleSpec

FOLDED_NOTE = ("imported from a lolzoo export: alpha/r was folded into U at export, so module_alphas are null "
               "(scale 1) and load_zoo gives the original zoo's tensors")


def import_export(folder: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False) -> PackSummary:
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportCheckError(f"--out {out} exists; pass --overwrite to replace it")
    checked = check_export(folder)
    table = _rows_in_zoo_order(checked)
    info = checked.info
    recipes = _frame(table, info.recipe_columns)
    labels = _frame(table, info.label_columns)
    extra = {**info.extra, "export": {"scaling_folded": True, "note": FOLDED_NOTE}}
    return pack_zoo(_loras(checked, table), labels, out, info.zoo, info.base_model, recipes=recipes,
                    extra_metadata=extra, provenance=info.provenance)


def _rows_in_zoo_order(checked: CheckedExport) -> pa.Table:
    table = pa.concat_tables([pq.read_table(checked.folder / shard.path) for shard in checked.shards])
    rows = table.column(ROW_COLUMN).to_numpy()
    if not np.array_equal(np.sort(rows), np.arange(len(rows))):
        raise ExportCheckError(f"{checked.folder}: the shards' {ROW_COLUMN} values are not the rows 0..{len(rows) - 1} "
                               "of one zoo")
    return table.take(pa.array(np.argsort(rows, kind="stable")))


def _frame(table: pa.Table, columns) -> pd.DataFrame | None:
    """Arrow-backed, so pack_zoo writes every column back with its original Arrow type."""
    if not columns:
        return None
    return table.select([ID_COLUMN, *columns]).to_pandas(types_mapper=pd.ArrowDtype)


def _loras(checked: CheckedExport, table: pa.Table) -> Iterator[tuple[str, Lora]]:
    info = checked.info
    parts = [_split_name(spec) for spec in info.modules]
    ranks = table.column("module_ranks").to_pylist()
    U = [_matrices(table, weight_column(spec.name, "U"), spec.n) for spec in info.modules]
    V = [_matrices(table, weight_column(spec.name, "V"), spec.m) for spec in info.modules]
    magnitudes = ([_matrices(table, weight_column(spec.name, "magnitude"), 1, vector=True) for spec in info.modules]
                  if info.dora else None)
    for i, lora_id in enumerate(table.column(ID_COLUMN).to_pylist()):
        modules = []
        for k, spec in enumerate(info.modules):
            r = int(ranks[i][k])
            modules.append(LoraModule(*parts[k], torch.from_numpy(U[k][i, :, :r].copy()),
                                      torch.from_numpy(V[k][i, :, :r].copy()), None, spec.conv_kernel,
                                      None if magnitudes is None else torch.from_numpy(magnitudes[k][i].copy())))
        yield lora_id, Lora(modules, "lolzoo-export", info.base_model)


def _matrices(table: pa.Table, column: str, rows: int, vector: bool = False) -> np.ndarray:
    """A weight column as one float32 array: (LoRAs, rows, r_max), or (LoRAs, n) for a vector."""
    if column not in table.column_names:
        raise ExportCheckError(f"the export has no column {column!r}")
    values = table.column(column).combine_chunks()
    while pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    flat = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(len(table), -1) if vector else flat.reshape(len(table), rows, -1)


def _split_name(spec: ModuleSpec) -> tuple[str, str]:
    """(component, path) whose name and key are the spec's: the zoo records the joined name only."""
    name = spec.name
    candidates = [("", name)] + [(name[:i], name[i + 1:]) for i, c in enumerate(name) if c == "."]
    for component, path in candidates:
        if module_key(component, path) == spec.key:
            return component, path
    raise ExportCheckError(f"module {name!r}: no split into component and path gives its key {spec.key!r}")
