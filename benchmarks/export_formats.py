"""Which weight layout should a Hugging Face dataset export of a zoo use?  Size, speed and reach of two.

    python benchmarks/export_formats.py                  # ~300 diffusion-like and ~100 LM-like LoRAs
    python benchmarks/export_formats.py --quick          # a fifth of that: a smoke run
    python benchmarks/export_formats.py --loras 50 --shapes lm

Two layouts of the same synthetic rank-4 LoRAs (random float32), each one Parquet file written
by pyarrow with the same settings (no compression, no dictionary, statistics on lora_id only,
row groups of ~64 MB of weights):

  (a) "array columns": per module two columns `<module>.U` (n x r) and `<module>.V` (m x r),
      declared as `datasets.Array2D(shape=(n, r), dtype="float32")` in the file's `huggingface`
      schema metadata, so `load_dataset(...).with_format("torch")` hands out tensors.  (Array2D's
      Arrow storage is list<list<float32>>: variable-size lists, so Parquet keeps repetition and
      definition levels for every float.)
  (b) "bytes column": the zoo's own layout, one `weights` large_binary per LoRA (per module Uᵀ
      then Vᵀ, rank-major float32), module names and shapes in the schema metadata, and a
      decoder of a few lines (`decode` below: numpy.frombuffer, reshape, transpose per module).

Per (shape, layout) it measures:
  - file size, and write time (pq.write_table of the Arrow table, built beforehand, to the page cache);
  - the first `datasets.load_dataset("parquet", data_files=..., split="train")` into a fresh
    cache_dir: one run, datasets' Arrow conversion included;
  - every LoRA as torch tensors from that dataset, one row at a time ((a): `with_format("torch")`,
    (b): `decode` on each row's bytes) and in batches of --batch rows ((a): the torch format's
    `iter(batch_size=...)`, (b): `decode_batch` on the Arrow column); best of --repeats;
  - `pandas.read_parquet` of the whole table, in a fresh interpreter without datasets imported
    (a plain pandas user: importing datasets registers Array2D, which changes what pandas builds);
    best of --repeats;
  - whether DuckDB computes one module's sum of squares of U per LoRA in plain SQL: the query is
    run and checked against numpy for (a), and the natural cast is tried and its error shown for (b).
Both layouts must give exactly the same tensors (torch.equal, per row and batched).  Last, a side
check: can `Array2D` with a dynamic first dimension hold mixed ranks?  Run it on an idle
machine and compare layouts within one run.  MB = 10^6 bytes.
"""

from __future__ import annotations

import os

os.environ["HF_DATASETS_OFFLINE"] = "1"  # before datasets is imported: no network here
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

RANK = 4
ROW_GROUP_BYTES = 64 << 20
METADATA_KEY = b"lolzoo"


def diffusion_modules() -> list[tuple[str, int, int]]:
    """32 attention projections of SD-like widths: n = m, 10 x 320, 12 x 640, 10 x 1280."""
    widths = [320] * 10 + [640] * 12 + [1280] * 10
    return [(f"unet.block{i // 2}.attn.to_{'qv'[i % 2]}", w, w) for i, w in enumerate(widths)]


def lm_modules() -> list[tuple[str, int, int]]:
    """28 layers x (q_proj 1536 x 1536, v_proj 256 x 1536) of a Qwen2-1.5B-like LM: 56 modules."""
    return [(f"model.layers.{layer}.self_attn.{name}", n, 1536)
            for layer in range(28) for name, n in (("q_proj", 1536), ("v_proj", 256))]


SHAPES = {"diffusion": (diffusion_modules, 300), "lm": (lm_modules, 100)}


def synthetic(modules, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per module the U (count x n x r) and V (count x m x r) of every LoRA, random float32."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, n, m in modules:
        arrays[f"{name}.U"] = rng.standard_normal((count, n, RANK), dtype=np.float32)
        arrays[f"{name}.V"] = rng.standard_normal((count, m, RANK), dtype=np.float32)
    return arrays


def write_parquet(path: Path, table: pa.Table, row_bytes: int) -> None:
    """The one writer setting both layouts share."""
    pq.write_table(table, path, row_group_size=max(1, ROW_GROUP_BYTES // row_bytes), compression="none",
                   use_dictionary=False, write_statistics=["lora_id"])


def nested(array: np.ndarray) -> pa.Array:
    """(count x n x r) float32 as list<list<float32>>, Array2D's storage, without copying the floats."""
    count, n, r = array.shape
    inner = pa.ListArray.from_arrays(pa.array(np.arange(0, count * n * r + 1, r, dtype=np.int32)),
                                     pa.array(array.reshape(-1)))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, count * n + 1, n, dtype=np.int32)), inner)


def array_table(ids: list[str], arrays: dict[str, np.ndarray]) -> pa.Table:
    """Layout (a): one Array2D column per U and per V."""
    features = datasets.Features({"lora_id": datasets.Value("string"),
                                  **{name: datasets.Array2D(shape=a.shape[1:], dtype="float32")
                                     for name, a in arrays.items()}})
    schema = features.arrow_schema  # the Array2D extension types and the `huggingface` metadata
    columns = [pa.array(ids)] + [pa.ExtensionArray.from_storage(schema.field(name).type, nested(a))
                                 for name, a in arrays.items()]
    return pa.Table.from_arrays(columns, schema=schema)


def bytes_table(ids: list[str], arrays: dict[str, np.ndarray], modules) -> pa.Table:
    """Layout (b): the zoo's weights column, per module Uᵀ (r x n) then Vᵀ (r x m), rank-major."""
    count = len(ids)
    rows = np.concatenate([arrays[f"{name}.{side}"].transpose(0, 2, 1).reshape(count, -1)
                           for name, _, _ in modules for side in "UV"], axis=1)
    row_bytes = rows.shape[1] * 4
    weights = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count, [None, pa.py_buffer(np.arange(0, (count + 1) * row_bytes, row_bytes, dtype=np.int64)),
                                   pa.py_buffer(rows)])
    features = datasets.Features({"lora_id": datasets.Value("string"), "weights": datasets.Value("large_binary")})
    metadata = {METADATA_KEY: json.dumps({"rank": RANK, "dtype": "<f4", "modules": modules,
                                          "layout": "per module U^T (r x n) then V^T (r x m), row-major"}),
                "huggingface": json.dumps({"info": {"features": features.to_dict()}})}
    schema = pa.schema([pa.field("lora_id", pa.string()), pa.field("weights", pa.large_binary())], metadata=metadata)
    return pa.Table.from_arrays([pa.array(ids), weights], schema=schema)


def decode(blob: bytes, modules, rank: int) -> dict[str, torch.Tensor]:
    """Layout (b)'s decoder: a row's bytes to {"<module>.U": n x r, "<module>.V": m x r} tensors."""
    flat, out, offset = torch.from_numpy(np.frombuffer(blob, "<f4").copy()), {}, 0
    for name, n, m in modules:
        for side, rows in (("U", n), ("V", m)):
            out[f"{name}.{side}"] = flat[offset:offset + rank * rows].view(rank, rows).T
            offset += rank * rows
    return out


def decode_batch(column: pa.Array, modules, rank: int) -> dict[str, torch.Tensor]:
    """Layout (b)'s batch decoder: an Arrow large_binary column of B rows to {"<module>.U": B x n x r, ...}."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.frombuffer(column.buffers()[1], np.int64)[column.offset:column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    flat, out, offset = torch.from_numpy(data.view("<f4").reshape(len(column), -1).copy()), {}, 0
    for name, n, m in modules:
        for side, rows in (("U", n), ("V", m)):
            out[f"{name}.{side}"] = flat[:, offset:offset + rank * rows].reshape(-1, rank, rows).transpose(1, 2)
            offset += rank * rows
    return out


def timed(function):
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def best(function, repeats: int):
    """The fastest of `repeats` runs (the first one also pages in the memory-mapped Arrow cache), and its result."""
    seconds, result = timed(function)
    for _ in range(repeats - 1):
        del result
        again, result = timed(function)
        seconds = min(seconds, again)
    return seconds, result


def iterate_arrays(ds, names: list[str]) -> list[dict[str, torch.Tensor]]:
    return [{name: row[name] for name in names} for row in ds.with_format("torch", columns=names)]


def file_modules(path: Path) -> tuple[list[tuple[str, int, int]], int]:
    """Layout (b)'s module names, shapes and rank, from the Parquet schema metadata."""
    meta = json.loads(pq.read_schema(path).metadata[METADATA_KEY])
    return [tuple(m) for m in meta["modules"]], meta["rank"]


def iterate_bytes(ds, path: Path) -> list[dict[str, torch.Tensor]]:
    modules, rank = file_modules(path)
    return [decode(row["weights"], modules, rank) for row in ds.with_format(None, columns=["weights"])]


def batches_arrays(ds, names: list[str], size: int) -> list[dict[str, torch.Tensor]]:
    return list(ds.with_format("torch", columns=names).iter(batch_size=size))


def batches_bytes(ds, path: Path, size: int) -> list[dict[str, torch.Tensor]]:
    modules, rank = file_modules(path)
    return [decode_batch(batch["weights"], modules, rank)
            for batch in ds.with_format("arrow", columns=["weights"]).iter(batch_size=size)]


PANDAS_READ = """
import sys, time
import pandas as pd
seconds = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    frame = pd.read_parquet(sys.argv[1])
    seconds = min(seconds, time.perf_counter() - start)
def describe(value):
    if hasattr(value, "dtype"):
        inner = f" of {describe(value[0])}" if value.dtype == object else ""
        return f"{type(value).__name__} {value.dtype} {value.shape}{inner}"
    return f"{type(value).__name__} of {len(value)}"
print(seconds, describe(frame.iloc[0, 1]))
"""


def pandas_seconds(path: Path, repeats: int) -> tuple[float, str]:
    """The best of `repeats` pandas.read_parquet of the whole table in a fresh interpreter without datasets
    imported: a plain pandas user.  (Importing datasets registers its Array2D extension types, which changes
    what pandas builds.)  Also what pandas makes of a weights cell."""
    result = subprocess.run([sys.executable, "-c", PANDAS_READ, str(path), str(repeats)],
                            capture_output=True, text=True, check=True)
    seconds, cell = result.stdout.strip().split(" ", 1)
    return float(seconds), cell


def duckdb_arrays(path: Path, module: str) -> tuple[bool, str, np.ndarray | None]:
    sql = (f"SELECT lora_id, list_sum(list_transform(flatten(\"{module}.U\"), lambda x: x * x)) AS ss "
           f"FROM read_parquet('{path}')")
    try:
        return True, sql, duckdb.sql(sql).fetchnumpy()["ss"]
    except duckdb.Error as err:
        return False, f"{sql}  -> {type(err).__name__}: {str(err).splitlines()[0]}", None


def duckdb_bytes(path: Path, modules) -> tuple[bool, str, None]:
    """The blob's first module U: DuckDB slices a BLOB but has no BLOB -> FLOAT[] reinterpretation."""
    n = modules[0][1]
    sql = f"SELECT CAST(weights[1:{4 * RANK * n}] AS FLOAT[]) FROM read_parquet('{path}')"
    try:
        duckdb.sql(sql).fetchall()
        return True, sql, None
    except duckdb.Error as err:
        return False, f"{sql}  -> {type(err).__name__}: {str(err).splitlines()[0]}", None


def run_shape(shape: str, count: int, batch: int, repeats: int, workdir: Path) -> tuple[list[dict], list[str]]:
    modules = SHAPES[shape][0]()
    arrays = synthetic(modules, count)
    ids = [f"{shape}-{i:05d}" for i in range(count)]
    names = list(arrays)
    row_bytes = sum(a[0].nbytes for a in arrays.values())
    rows, notes, per_row, batched = [], [], {}, {}
    for layout in ("a", "b"):
        path = workdir / f"{shape}-{layout}.parquet"
        table = array_table(ids, arrays) if layout == "a" else bytes_table(ids, arrays, modules)
        write_s, _ = timed(lambda: write_parquet(path, table, row_bytes))
        del table
        cache = workdir / f"hf-cache-{shape}-{layout}"
        load_s, ds = timed(lambda: datasets.load_dataset("parquet", data_files=str(path), split="train",
                                                         cache_dir=str(cache)))
        if layout == "a":
            assert isinstance(ds.features[names[0]], datasets.Array2D), ds.features[names[0]]
            rows_s, per_row[layout] = best(lambda: iterate_arrays(ds, names), repeats)
            batches_s, batched[layout] = best(lambda: batches_arrays(ds, names, batch), repeats)
        else:
            rows_s, per_row[layout] = best(lambda: iterate_bytes(ds, path), repeats)
            batches_s, batched[layout] = best(lambda: batches_bytes(ds, path, batch), repeats)
        del ds
        pandas_s, cell = pandas_seconds(path, repeats)
        notes.append(f"{shape} ({layout}) pandas cell: {cell}")
        module = modules[0][0]
        if layout == "a":
            duck_s, (usable, sql, sums) = timed(lambda: duckdb_arrays(path, module))
            if usable:
                expected = (arrays[f"{module}.U"].astype(np.float64) ** 2).sum(axis=(1, 2))
                assert np.allclose(sums, expected, rtol=1e-5), "DuckDB's sums of squares differ from numpy's"
        else:
            duck_s, (usable, sql, _) = timed(lambda: duckdb_bytes(path, modules))
        notes.append(f"{shape} ({layout}) DuckDB: {sql}")
        rows.append({"shape": shape, "layout": layout, "loras": count, "mb": path.stat().st_size / 1e6,
                     "write": write_s, "load": load_s, "rows": rows_s, "batches": batches_s, "pandas": pandas_s,
                     "duckdb": f"yes ({duck_s:.2f} s)" if usable else "no"})
        shutil.rmtree(cache, ignore_errors=True)
        path.unlink()
    for a, b in zip(per_row["a"], per_row["b"]):
        for name in names:
            assert a[name].dtype == b[name].dtype == torch.float32
            assert torch.equal(a[name], b[name]), f"{shape}: {name} differs between the layouts"
    for a, b in zip(batched["a"], batched["b"]):
        for name in names:
            assert torch.equal(a[name], b[name]), f"{shape}: batched {name} differs between the layouts"
    for name in names:
        assert torch.equal(torch.cat([b[name] for b in batched["a"]]), torch.from_numpy(arrays[name]))
    notes.append(f"{shape}: {count} LoRAs x {len(modules)} modules, {row_bytes / 1e6:.2f} MB of float32 per LoRA; "
                 f"both layouts gave identical tensors (torch.equal on all {count * len(names)} per row and "
                 f"batched, and equal to the written arrays)")
    return rows, notes


def dynamic_rank_check(workdir: Path) -> list[str]:
    """Mixed ranks: Array2D's only dynamic dimension is the first, so U would be stored as Uᵀ (r x n)."""
    notes = []
    try:
        datasets.Features({"U": datasets.Array2D(shape=(64, None), dtype="float32")}).arrow_schema
        notes.append("Array2D(shape=(n, None)) (U as n x r, dynamic r) is accepted")
    except ValueError as err:
        notes.append(f"Array2D(shape=(n, None)) (U as n x r, dynamic r) is refused: {err}")
    ranks, n = [2, 4, 8, 4], 64
    rng = np.random.default_rng(1)
    transposed = [rng.standard_normal((r, n), dtype=np.float32) for r in ranks]
    schema = datasets.Features({"UT": datasets.Array2D(shape=(None, n), dtype="float32")}).arrow_schema
    storage = pa.array([t.tolist() for t in transposed], type=pa.list_(pa.list_(pa.float32())))
    path = workdir / "dynamic.parquet"
    pq.write_table(pa.Table.from_arrays([pa.ExtensionArray.from_storage(schema.field("UT").type, storage)],
                                        schema=schema), path, compression="none")
    try:
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(workdir / "hf-dyn"))
        got = [row["UT"] for row in ds.with_format("torch")]
        same = all(torch.equal(g, torch.from_numpy(t)) for g, t in zip(got, transposed))
        notes.append(f"Array2D(shape=(None, n)) with ranks {ranks} (Uᵀ, r x n): loads as {ds.features['UT']}, "
                     f"torch rows of shapes {[tuple(g.shape) for g in got]}, equal to the input: {same}")
        try:
            shapes = [tuple(b["UT"].shape) if isinstance(b["UT"], torch.Tensor) else
                      f"list of {len(b['UT'])}" for b in ds.with_format("torch").iter(batch_size=2)]
            notes.append(f"  batched (2 rows) with mixed ranks: {shapes}")
        except Exception as err:  # a finding to report, not a failure of the benchmark
            notes.append(f"  batched (2 rows) with mixed ranks fails: {type(err).__name__}: {err}")
    except Exception as err:  # a finding to report, not a failure of the benchmark
        notes.append(f"Array2D(shape=(None, n)) with mixed ranks fails: {type(err).__name__}: {err}")
    return notes


def print_report(rows: list[dict], notes: list[str], batch: int) -> None:
    print(f"{os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}; datasets {datasets.__version__}, "
          f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}; rank {RANK}")
    print("(a) = per-module Array2D columns, (b) = one large_binary weights column + decoder")
    print()
    print(f"| shape | layout | LoRAs | file MB | write s | datasets load s | torch iterate s (rows) | LoRAs/s "
          f"| torch iterate s (batches of {batch}) | LoRAs/s | pandas read s | DuckDB usable |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['layout']} | {r['loras']} | {r['mb']:.1f} | {r['write']:.2f} | {r['load']:.2f} "
              f"| {r['rows']:.2f} | {r['loras'] / r['rows']:.0f} | {r['batches']:.2f} "
              f"| {r['loras'] / r['batches']:.0f} | {r['pandas']:.2f} | {r['duckdb']} |")
    print()
    for note in notes:
        print(f"- {note}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loras", type=int, default=None,
                        help="LoRAs per shape (default: 300 diffusion-like, 100 LM-like)")
    parser.add_argument("--quick", action="store_true", help="a fifth of the default LoRAs (a smoke run)")
    parser.add_argument("--batch", type=int, default=32, help="rows per batch of the batched iteration (default 32)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each iteration and of the pandas read; the best is reported (default 2)")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the files go (default: system temp)")
    args = parser.parse_args(argv)

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    workdir = Path(tempfile.mkdtemp(prefix="lolzoo-export-formats-", dir=args.tmp_dir))
    rows, notes = [], []
    try:
        for shape in args.shapes:
            count = args.loras or SHAPES[shape][1]
            if args.quick and args.loras is None:
                count = max(1, count // 5)
            start = time.perf_counter()
            shape_rows, shape_notes = run_shape(shape, count, args.batch, args.repeats, workdir)
            rows += shape_rows
            notes += shape_notes + [f"{shape}: whole case {time.perf_counter() - start:.1f} s"]
        notes += dynamic_rank_check(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_report(rows, notes, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
