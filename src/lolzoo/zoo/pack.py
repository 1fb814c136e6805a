"""Pack LoRAs, their recipes and their labels into one Parquet zoo, streaming row groups.

Memory stays bounded by one row group (`row_group_bytes` of weights) whatever the zoo's
size, and the file appears only when complete (written to a hidden temporary, then renamed).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lolzoo.io import atomic_file
from lolzoo.lora.types import Lora, LoraFormatError
from lolzoo.zoo.schema import (
    FIXED_COLUMNS,
    ID_COLUMN,
    MAGNITUDES_COLUMN,
    PLAIN_SCHEMA_VERSION,
    RESERVED_COLUMNS,
    SCHEMA_VERSION,
    WEIGHTS_COLUMN,
    WEIGHTS_DTYPE,
    WEIGHTS_TYPE,
    ModuleSpec,
    ZooFormatError,
    ZooInfo,
    zoo_schema,
)

DEFAULT_ROW_GROUP_BYTES = 64 << 20  # big enough for fast sequential reads, small enough to buffer
SHOWN_IDS = 5  # how many offending ids an error message lists

# A recipe or label column may repeat one of these if it agrees with what pack writes
# (e.g. the recipe's `rank`): it is checked, then dropped, so nothing is stored twice.
CHECKED_DUPLICATES = ("zoo", "base_model", "rank")


@dataclass(frozen=True)
class PackSummary:
    path: Path
    num_loras: int
    weight_bytes: int
    info: ZooInfo


def pack_zoo(
    entries: Iterable[tuple[str, Lora]],
    labels: pd.DataFrame | None,
    out_path: str | os.PathLike,
    zoo_name: str,
    base_model: str | None,
    recipes: pd.DataFrame | None = None,
    *,
    allow_missing_labels: bool = False,
    extra_metadata: Mapping | None = None,
    provenance: Mapping | None = None,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
) -> PackSummary:
    """Write one row per (lora_id, Lora) of `entries` to `out_path`; see lolzoo.zoo.schema.

    `labels` and `recipes` are frames with a `lora_id` column, joined on it.  Every LoRA
    needs a label row (unless `allow_missing_labels`: its labels are null) and every label
    row needs a LoRA; recipes may list more LoRAs than packed, and a LoRA without a recipe
    gets null recipe columns.  `base_model=None` takes it from the LoRAs' own metadata, else
    from `provenance["base"]["name"]` when given.
    """
    provenance = dict(provenance or {})
    if base_model is None and provenance.get("base", {}).get("name"):
        base_model = provenance["base"]["name"]
    out_path = Path(out_path)
    label_side = _SideTable(_without_recipe_columns(labels, recipes), "labels")
    recipe_side = _SideTable(recipes, "recipes")

    with atomic_file(out_path) as tmp_path:
        packer = _Packer(tmp_path, zoo_name, base_model, label_side, recipe_side,
                         dict(extra_metadata or {}), provenance, row_group_bytes)
        try:
            for lora_id, lora in entries:
                packer.add(str(lora_id), lora)
            packer.finish()
            _check_label_coverage(label_side, packer.ids, allow_missing_labels)
        except BaseException:
            packer.abort()
            raise
    return PackSummary(out_path, len(packer.ids), packer.weight_bytes, packer.info)


def _without_recipe_columns(labels: pd.DataFrame | None, recipes: pd.DataFrame | None) -> pd.DataFrame | None:
    """Labels may repeat a recipe column (a LoRA's data labels name its subject or classes):
    kept once, from the recipes, if the two agree for every LoRA both list; else an error."""
    if labels is None or recipes is None:
        return labels
    both = [c for c in labels.columns if c != "lora_id" and c in recipes.columns]
    if not both:
        return labels
    merged = labels[["lora_id", *both]].merge(recipes[["lora_id", *both]], on="lora_id", suffixes=("", " (recipe)"))
    for column in both:
        label, recipe = merged[column], merged[f"{column} (recipe)"]
        differs = ~((label == recipe) | (label.isna() & recipe.isna()))
        if differs.any():
            row = merged[differs].iloc[0]
            raise ZooFormatError(f"column {column!r} is in both the recipes and the labels, and they disagree "
                                 f"for lora {row['lora_id']!r}: {row[column]!r} vs {row[f'{column} (recipe)']!r}")
    return labels.drop(columns=both)


class _SideTable:
    """Recipes or labels as an Arrow table indexed by lora_id, so rows are taken per row group."""

    def __init__(self, frame: pd.DataFrame | None, what: str):
        self.what = what
        self.columns: list[str] = []
        self.checked: list[str] = []  # columns repeating a fixed column: verified, not stored
        self.row_of: dict[str, int] = {}
        if frame is None:
            self.table = None
            return
        if ID_COLUMN not in frame.columns:
            raise ZooFormatError(f"the {what} have no {ID_COLUMN!r} column "
                                 f"(columns: {', '.join(map(str, frame.columns))})")
        ids = frame[ID_COLUMN].astype(str)
        duplicated = ids[ids.duplicated()].unique().tolist()
        if duplicated:
            raise ZooFormatError(f"the {what} list these lora_ids more than once: {_few(duplicated)}")
        clashing = sorted(set(frame.columns) & RESERVED_COLUMNS - {ID_COLUMN} - set(CHECKED_DUPLICATES))
        if clashing:
            raise ZooFormatError(f"the {what} use reserved column names {clashing}")
        self.checked = [c for c in CHECKED_DUPLICATES if c in frame.columns]
        self.columns = [c for c in frame.columns if c not in RESERVED_COLUMNS]
        self.row_of = {lora_id: i for i, lora_id in enumerate(ids)}
        body = frame[self.checked + self.columns].reset_index(drop=True)
        self.table = pa.Table.from_pandas(body, preserve_index=False).replace_schema_metadata(None)

    def fields(self) -> list[pa.Field]:
        if self.table is None:
            return []
        return [self.table.schema.field(c).with_nullable(True) for c in self.columns]

    def take(self, ids: list[str]) -> pa.Table | None:
        """The rows for `ids`, in order; a null row where an id is unknown."""
        if self.table is None:
            return None
        positions = [self.row_of.get(i) for i in ids]
        return self.table.take(pa.array(positions, type=pa.int64()))


class _Packer:
    """Accumulates rows and flushes a row group whenever `row_group_bytes` of weights are buffered."""

    def __init__(self, path: Path, zoo_name, base_model, labels: _SideTable, recipes: _SideTable,
                 extra: dict, provenance: dict, row_group_bytes: int):
        self.path = path
        self.zoo_name = zoo_name
        self.base_model = base_model
        self.labels = labels
        self.recipes = recipes
        self.extra = extra
        self.provenance = provenance
        self.row_group_bytes = row_group_bytes
        self.writer: pq.ParquetWriter | None = None
        self.info: ZooInfo | None = None
        self.first_id: str | None = None
        self.layout: list[ModuleSpec] | None = None
        self.ids: set[str] = set()
        self.base_model_from: str | None = None  # the lora_id base_model was taken from, if inferred
        self.weight_bytes = 0
        self.dora: bool | None = None  # set by the first LoRA: a zoo is all DoRA or all plain
        self._rows: list[tuple[str, list[int], list[float | None], np.ndarray, np.ndarray | None]] = []
        self._buffered = 0

    def add(self, lora_id: str, lora: Lora) -> None:
        if lora_id in self.ids:
            raise ZooFormatError(f"lora_id {lora_id!r} is given twice")
        self._check_layout(lora_id, lora)
        self._check_base_model(lora_id, lora)
        self._check_dora(lora_id, lora)
        flat = _flatten_weights(lora)
        magnitudes = _flatten_magnitudes(lora) if self.dora else None
        _check_finite(lora_id, lora, flat, magnitudes)
        self.ids.add(lora_id)
        self._rows.append((lora_id, [m.rank for m in lora.modules],
                           [None if m.alpha is None else float(m.alpha) for m in lora.modules], flat, magnitudes))
        self._buffered += flat.nbytes
        if self._buffered >= self.row_group_bytes:
            self._flush()

    def finish(self) -> None:
        if not self.ids:
            raise ZooFormatError("no LoRAs to pack")
        self._flush()
        self.writer.close()
        self.writer = None

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _check_layout(self, lora_id: str, lora: Lora) -> None:
        layout = [ModuleSpec(m.name, m.key, m.out_features, m.in_features, getattr(m, "conv_kernel", None))
                  for m in lora.modules]
        if self.layout is None:
            self.layout, self.first_id = layout, lora_id
            return
        if layout != self.layout:
            raise ZooFormatError(f"lora {lora_id!r} has a different module layout from lora "
                                 f"{self.first_id!r}: {_layout_difference(self.layout, layout)}")

    def _check_dora(self, lora_id: str, lora: Lora) -> None:
        if self.dora is None:
            self.dora = lora.is_dora
        elif lora.is_dora != self.dora:
            kinds = {True: "a DoRA adapter", False: "a plain LoRA"}
            raise ZooFormatError(f"lora {lora_id!r} is {kinds[lora.is_dora]} but lora {self.first_id!r} is "
                                 f"{kinds[self.dora]}: one zoo holds one kind")

    def _check_base_model(self, lora_id: str, lora: Lora) -> None:
        if self.base_model is None:  # the first LoRA names it for the zoo
            self.base_model = lora.base_model or "unknown"
            self.base_model_from = lora_id
        elif self.base_model_from is not None and lora.base_model not in (None, self.base_model):
            raise ZooFormatError(f"lora {lora_id!r} adapts {lora.base_model!r} but lora "
                                 f"{self.base_model_from!r} adapts {self.base_model!r}; "
                                 f"pass base_model to pack them into one zoo anyway")

    def _open(self) -> None:
        self.info = ZooInfo(
            schema_version=SCHEMA_VERSION if self.dora else PLAIN_SCHEMA_VERSION,
            zoo=self.zoo_name,
            base_model=self.base_model,
            modules=tuple(self.layout),
            recipe_columns=tuple(self.recipes.columns),
            label_columns=tuple(self.labels.columns),
            extra=self.extra,
            dora=bool(self.dora),
            provenance=self.provenance,
        )
        self.schema = zoo_schema(self.info, self.recipes.fields() + self.labels.fields())
        self.writer = parquet_writer(self.path, self.schema, (WEIGHTS_COLUMN,))

    def _flush(self) -> None:
        if not self._rows:
            return
        if self.writer is None:
            self._open()
        ids = [row[0] for row in self._rows]
        ranks = [row[1] for row in self._rows]
        columns = {
            "lora_id": pa.array(ids, pa.string()),
            "zoo": pa.array([self.zoo_name] * len(ids), pa.string()),
            "base_model": pa.array([self.base_model] * len(ids), pa.string()),
            "rank": pa.array([max(r) for r in ranks], pa.int32()),
            "module_ranks": pa.array(ranks, FIXED_COLUMNS["module_ranks"]),
            "module_alphas": pa.array([row[2] for row in self._rows], FIXED_COLUMNS["module_alphas"]),
        }
        recipe_rows = self.recipes.take(ids)
        label_rows = self.labels.take(ids)  # coverage is checked once, at the end
        for side, rows in ((self.recipes, recipe_rows), (self.labels, label_rows)):
            if rows is None:
                continue
            _check_duplicates(side, rows, columns, ids)
            for name in side.columns:
                columns[name] = rows.column(name)
        if self.dora:
            columns[MAGNITUDES_COLUMN] = _binary_column([row[4] for row in self._rows])
        columns[WEIGHTS_COLUMN] = _binary_column([row[3] for row in self._rows])
        table = pa.Table.from_pydict(columns, schema=self.schema)
        self.writer.write_table(table, row_group_size=len(ids))
        self.weight_bytes += sum(row[3].nbytes for row in self._rows)
        self._rows, self._buffered = [], 0


def parquet_writer(path, schema: pa.Schema, raw_columns) -> pq.ParquetWriter:
    """The zoo's writer settings (an export's shards share them): zstd, dictionaries and statistics
    on the small columns; the `raw_columns` (float bytes) stored as they are, since floats do not
    compress and reading them without a codec or statistics keeps loading a memcpy."""
    leaves = _leaf_paths(schema)
    small = [leaf for leaf, field in leaves if field not in raw_columns]
    return pq.ParquetWriter(path, schema, compression={leaf: "none" if field in raw_columns else "zstd"
                                                       for leaf, field in leaves},
                            use_dictionary=small, write_statistics=small)


def _leaf_paths(schema: pa.Schema) -> list[tuple[str, str]]:
    """(Parquet leaf column path, top-level field) for every leaf ("module_ranks.list.element"): per-column
    writer options need the paths, and a column name may hold dots, so each field is written alone."""
    found = []
    for field in schema:
        sink = io.BytesIO()
        pq.write_table(pa.schema([field]).empty_table(), sink)
        parquet_schema = pq.read_metadata(io.BytesIO(sink.getvalue())).schema
        found += [(parquet_schema.column(i).path, field.name) for i in range(len(parquet_schema))]
    return found


def _flatten_weights(lora: Lora) -> np.ndarray:
    """Uᵀ then Vᵀ of every module (rank-major), float32 little-endian, one contiguous row (one torch.cat)."""
    parts = [t.detach().to("cpu", torch.float32).T.reshape(-1) for m in lora.modules for t in (m.U, m.V)]
    return torch.cat(parts).numpy().astype(WEIGHTS_DTYPE, copy=False)


def _flatten_magnitudes(lora: Lora) -> np.ndarray:
    """Every module's DoRA magnitude vector in module order, float32 little-endian."""
    return torch.cat([m.magnitude.detach().to("cpu", torch.float32) for m in lora.modules]).numpy().astype(
        WEIGHTS_DTYPE, copy=False)


def _check_finite(lora_id: str, lora: Lora, *rows: np.ndarray | None) -> None:
    """One float64 sum per row is finite exactly when every float32 is (it cannot overflow); only
    a LoRA that fails it pays for Lora.check_finite, which names the module."""
    alphas_finite = all(m.alpha is None or math.isfinite(m.alpha) for m in lora.modules)
    if alphas_finite and all(math.isfinite(float(row.sum(dtype=np.float64))) for row in rows if row is not None):
        return
    try:
        lora.check_finite()
    except LoraFormatError as err:
        raise ZooFormatError(f"lora {lora_id!r}: {err}") from err


def _binary_column(rows: list[np.ndarray]) -> pa.Array:
    data = np.concatenate(rows)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([r.nbytes for r in rows], out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(WEIGHTS_TYPE, len(rows),
                                            [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _check_duplicates(side: _SideTable, rows: pa.Table, columns: dict, ids: list[str]) -> None:
    """A recipe `rank` (or `zoo`, `base_model`) must agree with the LoRA; a missing value passes."""
    for name in side.checked:
        given = rows.column(name).to_pylist()
        actual = columns[name].to_pylist()
        bad = [i for i, g, a in zip(ids, given, actual) if g is not None and not _same(g, a)]
        if bad:
            first = ids.index(bad[0])
            raise ZooFormatError(f"the {side.what} column {name!r} disagrees with the packed value "
                                 f"for {_few(bad)} (e.g. {bad[0]!r}: {given[first]!r} vs {actual[first]!r})")


def _same(given, actual) -> bool:
    try:
        return float(given) == float(actual)
    except (TypeError, ValueError):
        return str(given) == str(actual)


def _check_label_coverage(labels: _SideTable, packed_ids: set[str], allow_missing: bool) -> None:
    if labels.table is None:
        return
    orphans = sorted(set(labels.row_of) - packed_ids)
    problems = []
    if orphans:
        problems.append(f"{len(orphans)} label rows have no LoRA: {_few(orphans)}")
    missing = sorted(set(packed_ids) - set(labels.row_of))
    if missing and not allow_missing:
        problems.append(f"{len(missing)} LoRAs have no label row: {_few(missing)} "
                        f"(allow_missing_labels stores null labels for them)")
    if problems:
        raise ZooFormatError("; ".join(problems))


def _layout_difference(expected: list[ModuleSpec], got: list[ModuleSpec]) -> str:
    by_name = {s.name: (s.n, s.m) for s in expected}
    got_names = {s.name: (s.n, s.m) for s in got}
    absent = [name for name in by_name if name not in got_names]
    extra = [name for name in got_names if name not in by_name]
    reshaped = [f"{name} is {got_names[name]} not {by_name[name]}"
                for name in by_name if name in got_names and got_names[name] != by_name[name]]
    parts = []
    if absent:
        parts.append(f"lacks {_few(absent)}")
    if extra:
        parts.append(f"adds {_few(extra)}")
    if reshaped:
        parts.append("; ".join(reshaped[:SHOWN_IDS]))
    return "; ".join(parts) or "module keys or conv kernels differ"


def _few(items) -> str:
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:SHOWN_IDS])
    return shown + (f" and {len(items) - SHOWN_IDS} more" if len(items) > SHOWN_IDS else "")
