"""How fast is the Parquet zoo?  Pack MB/s, load_zoo MB/s, and np.load of the same bytes beside it.

    python benchmarks/zoo_io.py                      # 1 GiB of rank-4 SD-shaped LoRAs
    python benchmarks/zoo_io.py --size-gb 4 --rank 32 --tmp-dir /scratch

The zoo holds LoRAs shaped like Stable Diffusion 1.x's UNet attention LoRAs (to_q, to_v of
attn1 and attn2 in its 16 transformer blocks: 64 modules).  "warm" reads a file that is in
the page cache; "cold" first evicts the file with posix_fadvise(DONTNEED), so the bytes come
from the disk (a virtual disk may still be cached by the host: cold numbers are a best
effort).  MB = 10^6 bytes of float32 weights.  Packing is timed to the page cache (no fsync);
fsync is timed separately.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lolzoo.lora.types import Lora, LoraModule
from lolzoo.zoo import load_zoo, pack_zoo

# SD 1.x UNet transformer blocks and their widths: 6 in the down blocks, 1 mid, 9 in the up blocks.
BLOCK_WIDTHS = [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320]
CROSS_ATTENTION_DIM = 768
POOL_SIZE = 8  # distinct random LoRAs, cycled: generation stays out of the timings


def sd_attention_shapes() -> list[tuple[str, int, int]]:
    shapes = []
    for block, width in enumerate(BLOCK_WIDTHS):
        prefix = f"blocks.{block}"
        shapes += [(f"{prefix}.attn1.to_q", width, width), (f"{prefix}.attn1.to_v", width, width),
                   (f"{prefix}.attn2.to_q", width, width), (f"{prefix}.attn2.to_v", width, CROSS_ATTENTION_DIM)]
    return shapes


def random_lora(seed: int, rank: int) -> Lora:
    g = torch.Generator().manual_seed(seed)
    modules = [LoraModule("unet", path, torch.randn(n, rank, generator=g), torch.randn(m, rank, generator=g), 4.0)
               for path, n, m in sd_attention_shapes()]
    return Lora(modules, "synthetic", "sd14")


def row_floats(rank: int) -> int:
    return sum((n + m) * rank for _, n, m in sd_attention_shapes())


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (they are clean after fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(function) -> float:
    gc.collect()
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    del result
    gc.collect()
    return elapsed


def measure(path: Path, function, repeats: int) -> dict[str, float]:
    evict(path)
    cold = timed(function)
    warm = [timed(function) for _ in range(repeats)]
    return {"cold": cold, "warm_best": min(warm), "warm_median": statistics.median(warm)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="GiB of float32 weights (default 1)")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5, help="warm repeats per loader (default 5)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the files go (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the files (their folder is printed)")
    args = parser.parse_args(argv)

    per_lora = 4 * row_floats(args.rank)
    count = math.ceil(args.size_gb * 2**30 / per_lora)
    workdir = Path(tempfile.mkdtemp(prefix="lolzoo-zoo-io-", dir=args.tmp_dir))
    zoo_path, npy_path = workdir / "zoo.parquet", workdir / "weights.npy"
    try:
        pool = [random_lora(seed, args.rank) for seed in range(POOL_SIZE)]
        ids = [f"bench-{i:05d}" for i in range(count)]
        labels = pd.DataFrame({"lora_id": ids, "score": np.arange(count, dtype=np.float64)})
        entries = ((lora_id, pool[i % POOL_SIZE]) for i, lora_id in enumerate(ids))

        start = time.perf_counter()
        summary = pack_zoo(entries, labels, zoo_path, "bench", "sd14")
        pack_seconds = time.perf_counter() - start
        fsync_seconds = timed(lambda: evict(zoo_path))
        megabytes = summary.weight_bytes / 1e6

        # the same bytes as one plain (N x floats) .npy, written row by row
        rows = np.stack([np.concatenate([t.numpy().ravel() for m in lora.modules for t in (m.U, m.V)])
                         for lora in pool])
        array = np.lib.format.open_memmap(npy_path, mode="w+", dtype=np.float32, shape=(count, rows.shape[1]))
        for start_row in range(0, count, POOL_SIZE):
            stop = min(count, start_row + POOL_SIZE)
            array[start_row:stop] = rows[:stop - start_row]
        array.flush()
        del array

        load_zoo(zoo_path), np.load(npy_path)  # one-time costs (imports, thread pools) out of "cold"
        results = {
            "load_zoo (fold_scaling=True)": measure(zoo_path, lambda: load_zoo(zoo_path), args.repeats),
            "load_zoo (fold_scaling=False)": measure(zoo_path, lambda: load_zoo(zoo_path, fold_scaling=False),
                                                     args.repeats),
            "np.load of the same bytes (.npy)": measure(npy_path, lambda: np.load(npy_path), args.repeats),
        }
        print_report(args, count, megabytes, zoo_path, pack_seconds, fsync_seconds, results)
    finally:
        if args.keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_report(args, count, megabytes, zoo_path, pack_seconds, fsync_seconds, results) -> None:
    print(f"zoo: {count} LoRAs x 64 SD-attention modules, rank {args.rank}; "
          f"{megabytes:,.0f} MB of float32 weights; file {zoo_path.stat().st_size / 1e6:,.0f} MB; "
          f"{os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}")
    print()
    print(f"| {'operation':<44} | {'seconds':>8} | {'MB/s':>7} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 9}|")
    print(f"| {'pack_zoo (to page cache)':<44} | {pack_seconds:8.2f} | {megabytes / pack_seconds:7.0f} |")
    print(f"| {'fsync of the packed file':<44} | {fsync_seconds:8.2f} | {megabytes / fsync_seconds:7.0f} |")
    for name, timing in results.items():
        for kind in ("cold", "warm_best", "warm_median"):
            label = f"{name}, {kind.replace('_', ' ')}"
            print(f"| {label:<44} | {timing[kind]:8.2f} | {megabytes / timing[kind]:7.0f} |")
    npy = results["np.load of the same bytes (.npy)"]
    print()
    for name in ("load_zoo (fold_scaling=True)", "load_zoo (fold_scaling=False)"):
        ratios = ", ".join(f"{kind.replace('_', ' ')} {npy[kind] / results[name][kind]:.2f}"
                           for kind in ("cold", "warm_best", "warm_median"))
        print(f"{name} / np.load throughput: {ratios}  (target >= 0.5)")


if __name__ == "__main__":
    sys.exit(main())
