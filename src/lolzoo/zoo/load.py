"""Load a Parquet zoo into torch: per module one U (N x n x r_max) and one V (N x m x r_max).

The weights column is read one row group at a time and its raw float32 buffer is viewed
(zero-copy) as an (LoRAs x floats) matrix, from which every module's U and V are sliced and
copied once into their output tensors: no per-row Python loop when the rows of a row group
share their module ranks.  Lower ranks are zero-padded to the zoo's largest rank; zero
columns add nothing to U Vᵀ, so the padding is exact.
"""

from __future__ import annotations

import fnmatch
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lolzoo.zoo.schema import (ID_COLUMN, MAGNITUDES_COLUMN, WEIGHTS_COLUMN, WEIGHTS_DTYPE, ModuleSpec,
                               ZooFormatError, ZooInfo)

# numpy can write these dtypes in place through Tensor.numpy(); others are built in float32 and cast.
_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64)
_INTERNAL_COLUMNS = ("module_ranks", "module_alphas")
_BINARY_COLUMNS = (WEIGHTS_COLUMN, MAGNITUDES_COLUMN)  # read by load_zoo itself, never into `table`


@dataclass
class Zoo:
    """A zoo in memory.  ΔW of LoRA i, module k is `scales[i, k] * U[k][i] @ V[k][i].T`.

    All U and V are views of one buffer (freed when the last of them goes).
    """

    path: Path
    info: ZooInfo
    modules: list[ModuleSpec]
    table: pd.DataFrame  # every non-weight column asked for, one row per LoRA, file order
    U: list[torch.Tensor]  # per module: N x n x r_max
    V: list[torch.Tensor]  # per module: N x m x r_max
    ranks: torch.Tensor  # N x num_modules (int64): each module's true rank before padding
    scales: torch.Tensor  # N x num_modules: alpha/r still to apply; all ones if scaling_folded
    scaling_folded: bool  # True: alpha/r was multiplied into U, so ΔW = U Vᵀ
    magnitudes: list[torch.Tensor] | None = None  # DoRA zoos: per module N x n, the magnitude vectors

    def __len__(self) -> int:
        return len(self.table)

    @property
    def lora_ids(self) -> list[str]:
        return self.table[ID_COLUMN].tolist()

    @property
    def r_max(self) -> int:
        return int(self.U[0].shape[2])

    def delta(self, index: int, module: int) -> torch.Tensor:
        """ΔW (n x m) of one LoRA's module; meant for tests and small modules."""
        return self.scales[index, module] * (self.U[module][index] @ self.V[module][index].T)


def read_zoo_info(path: str | os.PathLike) -> ZooInfo:
    """The schema metadata only (modules, names, version), without reading any row."""
    return ZooInfo.from_schema(_open(path).schema_arrow, str(path))


def load_zoo(
    path: str | os.PathLike,
    columns: list[str] | None = None,
    fold_scaling: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Zoo:
    """Read a zoo: `columns` picks the non-weight columns of `table` (lora_id always; None: all)."""
    path = Path(path)
    parquet = _open(path)
    info = ZooInfo.from_schema(parquet.schema_arrow, str(path))
    table_columns = _table_columns(parquet.schema_arrow, columns, path)
    side = parquet.read(columns=list(dict.fromkeys(table_columns + list(_INTERNAL_COLUMNS))),
                        use_threads=True)
    ranks = _per_module(side, "module_ranks", len(info.modules), np.int64, path)
    alphas = _per_module(side, "module_alphas", len(info.modules), np.float64, path)
    scales = np.where(np.isnan(alphas), 1.0, alphas / np.maximum(ranks, 1))

    work_dtype = dtype if dtype in _NUMPY_DTYPES else torch.float32
    U, V = _allocate(info.modules, ranks, work_dtype)
    filler = _WeightFiller(info, ranks, scales if fold_scaling else None, U, V,
                           side.column(ID_COLUMN).to_pylist(), path)
    _read_weights(parquet, filler)
    if work_dtype != dtype:
        U, V = [u.to(dtype) for u in U], [v.to(dtype) for v in V]
    magnitudes = _read_magnitudes(parquet, info, path, dtype) if info.dora else None

    scales_out = np.ones_like(scales) if fold_scaling else scales
    return Zoo(
        path=path,
        info=info,
        modules=list(info.modules),
        table=side.select(table_columns).to_pandas(),
        U=U,
        V=V,
        ranks=torch.from_numpy(ranks),
        scales=torch.from_numpy(scales_out).to(dtype),
        scaling_folded=fold_scaling,
        magnitudes=magnitudes,
    )


def match_columns(path: str | os.PathLike, patterns: list[str]) -> list[str]:
    """Column names for `patterns`, where a `*` pattern (class_*) stands for every matching
    column in file order; a name without `*` is kept as it is (load_zoo checks it)."""
    available = [name for name in _open(path).schema_arrow.names if name not in _BINARY_COLUMNS]
    columns = []
    for pattern in patterns:
        if "*" not in pattern:
            columns.append(pattern)
            continue
        matched = [name for name in available if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise ZooFormatError(f"{path}: no column matches {pattern!r} (columns: {', '.join(available)})")
        columns += matched
    return list(dict.fromkeys(columns))


def _open(path) -> pq.ParquetFile:
    if not Path(path).exists():
        raise FileNotFoundError(f"no zoo file {path}")
    try:
        # memory_map: decoding reads straight from the page cache instead of through read() copies
        return pq.ParquetFile(path, memory_map=True)
    except (pa.ArrowInvalid, OSError) as err:
        raise ZooFormatError(f"{path}: not a lolzoo zoo (not a Parquet file: {err})") from err


def _table_columns(schema: pa.Schema, columns: list[str] | None, path: Path) -> list[str]:
    available = [name for name in schema.names if name not in _BINARY_COLUMNS]
    if columns is None:
        return available
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise ZooFormatError(f"{path}: no columns {unknown} (columns: {', '.join(available)})")
    return list(dict.fromkeys([ID_COLUMN, *columns]))


def _per_module(table: pa.Table, name: str, num_modules: int, dtype, path: Path) -> np.ndarray:
    """A list column with one entry per module as an N x num_modules array (nulls as NaN)."""
    lists = table.column(name).combine_chunks()
    lengths = lists.value_lengths().to_numpy(zero_copy_only=False)
    if (lengths != num_modules).any():
        raise ZooFormatError(f"{path}: column {name!r} does not have one entry per module ({num_modules})")
    values = lists.flatten().to_numpy(zero_copy_only=False)
    return values.astype(dtype).reshape(len(lists), num_modules)


def _read_magnitudes(parquet: pq.ParquetFile, info: ZooInfo, path: Path, dtype: torch.dtype) -> list[torch.Tensor]:
    """Per module the N x n_k DoRA magnitudes (a few floats per row: read in one go)."""
    if MAGNITUDES_COLUMN not in parquet.schema_arrow.names:
        raise ZooFormatError(f"{path}: a DoRA zoo without its {MAGNITUDES_COLUMN!r} column")
    sizes = [spec.n for spec in info.modules]
    rows = []
    for chunk in parquet.read(columns=[MAGNITUDES_COLUMN]).column(0).chunks:
        if chunk.null_count:
            raise ZooFormatError(f"{path}: null DoRA magnitudes")
        flat, offsets = _float_view(chunk)
        if (np.diff(offsets) != sum(sizes)).any():
            raise ZooFormatError(f"{path}: a row of DoRA magnitudes does not have {sum(sizes)} floats "
                                 "(one per output feature of every module)")
        rows.append(flat[offsets[0]:offsets[-1]].reshape(len(chunk), sum(sizes)))
    table = torch.from_numpy(np.concatenate(rows) if rows else np.empty((0, sum(sizes)), WEIGHTS_DTYPE))
    return [part.to(dtype).contiguous() for part in table.split(sizes, dim=1)]


def _allocate(modules, ranks: np.ndarray, dtype: torch.dtype):
    """Every U and V as a view into one numpy buffer: numpy asks the kernel for huge pages,
    and first-touch page faults of many separate torch allocations cost a third of the load."""
    count, r_max = ranks.shape[0], int(ranks.max()) if ranks.size else 0
    # Rank-major storage (count, r, n) handed out as (count, n, r) views: see lolzoo.zoo.schema.
    shapes = [(count, r_max, spec.n) for spec in modules] + [(count, r_max, spec.m) for spec in modules]
    make = np.empty if (ranks == r_max).all() else np.zeros  # zeros only where padding is needed
    buffer = make(sum(math.prod(shape) for shape in shapes), dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    tensors, at = [], 0
    for shape in shapes:
        size = math.prod(shape)
        tensors.append(torch.from_numpy(buffer[at:at + size].reshape(shape)).mT)
        at += size
    return tensors[:len(modules)], tensors[len(modules):]


def _read_weights(parquet: pq.ParquetFile, filler: "_WeightFiller") -> None:
    """Row groups in order; the next one is read while the current one is copied (two CPUs suffice)."""
    starts = np.cumsum([0] + [parquet.metadata.row_group(i).num_rows
                              for i in range(parquet.num_row_groups)])

    def read(i):
        return parquet.read_row_group(i, columns=[WEIGHTS_COLUMN], use_threads=False).column(0)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read, 0) if parquet.num_row_groups else None
        for i in range(parquet.num_row_groups):
            column = pending.result()
            pending = pool.submit(read, i + 1) if i + 1 < parquet.num_row_groups else None
            start = int(starts[i])
            for chunk in column.chunks:
                filler.fill(chunk, start)
                start += len(chunk)
            del column  # free this row group's buffer before the next one lands


class _WeightFiller:
    """Copies the rows of one weights chunk into the module tensors, scaling U on the way."""

    def __init__(self, info: ZooInfo, ranks, scales, U, V, ids, path):
        self.modules = info.modules
        self.ranks = ranks
        self.scales = scales  # None: keep U as stored
        # rank-major numpy views (count, r, n): numpy writes land in the tensors
        self.U = [u.mT.numpy() for u in U]
        self.V = [v.mT.numpy() for v in V]
        self.ids = ids
        self.path = path
        sizes = np.array([spec.n + spec.m for spec in info.modules], dtype=np.int64)
        self.row_floats = ranks @ sizes  # expected length of every row

    def fill(self, chunk: pa.Array, start: int) -> None:
        count = len(chunk)
        if count == 0:
            return
        if chunk.null_count:
            raise ZooFormatError(f"{self.path}: null weights in rows {start}..{start + count - 1}")
        flat, offsets = _float_view(chunk)
        rows = slice(start, start + count)
        lengths = np.diff(offsets)
        wrong = np.flatnonzero(lengths != self.row_floats[rows])
        if wrong.size:
            i = start + int(wrong[0])
            raise ZooFormatError(f"{self.path}: lora {self.ids[i]!r} has {int(lengths[wrong[0]])} weight "
                                 f"floats, its module ranks need {int(self.row_floats[i])}")
        signatures = self.ranks[rows]
        if (signatures == signatures[0]).all():  # the common case: one reshape for the whole chunk
            block = flat[offsets[0]:offsets[-1]].reshape(count, -1)
            self._scatter(block, rows, signatures[0])
            return
        unique, group_of = np.unique(signatures, axis=0, return_inverse=True)
        for g, signature in enumerate(unique):  # mixed ranks: gather rows sharing their ranks
            members = np.flatnonzero(group_of.ravel() == g)
            block = np.stack([flat[offsets[j]:offsets[j + 1]] for j in members])
            self._scatter(block, start + members, signature)

    def _scatter(self, block: np.ndarray, rows, signature) -> None:
        at = 0
        for k, spec in enumerate(self.modules):
            r = int(signature[k])
            u = block[:, at:at + spec.n * r].reshape(-1, r, spec.n)
            at += spec.n * r
            v = block[:, at:at + spec.m * r].reshape(-1, r, spec.m)
            at += spec.m * r
            _store(u, self.U[k], rows, r, None if self.scales is None else self.scales[rows, k])
            _store(v, self.V[k], rows, r, None)


def _store(source: np.ndarray, target: np.ndarray, rows, r: int, scale) -> None:
    """target[rows, :r] = source (* scale per row), in the target's precision, one pass when possible;
    target is rank-major (count, r_max, n), so padding ranks are trailing rows."""
    if isinstance(rows, slice):  # a view: write in place, no temporary
        view = target[rows, :r]
        if scale is None:
            np.copyto(view, source)
        else:
            np.multiply(source, scale.astype(target.dtype)[:, None, None], out=view)
    else:  # fancy row index (mixed ranks): numpy needs the assignment form
        target[rows, :r] = source if scale is None else source * scale.astype(target.dtype)[:, None, None]


def _float_view(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's bytes as float32 (zero-copy) and its row offsets counted in floats."""
    offset_type = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
    if not (pa.types.is_large_binary(chunk.type) or pa.types.is_binary(chunk.type)):
        raise ZooFormatError(f"weights column has type {chunk.type}, expected large_binary")
    _, offset_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[chunk.offset:chunk.offset + len(chunk) + 1]
    if (offsets % 4).any():
        raise ZooFormatError("weights rows are not whole float32 values")
    if data_buffer is None:
        return np.empty(0, WEIGHTS_DTYPE), (offsets // 4).astype(np.int64)
    flat = np.frombuffer(data_buffer, dtype=WEIGHTS_DTYPE, count=data_buffer.size // 4)
    return flat, (offsets // 4).astype(np.int64)
