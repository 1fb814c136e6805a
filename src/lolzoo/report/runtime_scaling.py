"""How LoL models scale with the size of the base model (paper, figure 5), on this CPU.

LoRAs shaped like the GPT-3 family: rank 4, one square d×d matrix adapted per layer.
For each model kind and size: preprocessing time per LoRA (64 LoRAs) and forward time per
LoRA (512 LoRAs in batches of up to 64), beside the floor: reading one LoRA's bytes once
from memory. A model whose features or first layer would not fit in the memory budget is
marked OOM with the memory it would need, without trying (MLP + Dense at the largest sizes).

    lolzoo runtime-scaling [--kinds glnet,svd] [--sizes 125M,175B] --out DIR
    python benchmarks/runtime_scaling.py [the same flags]   (--out defaults to results/benchmarks/runtime_scaling)

Prints a Markdown table and writes runtime_scaling.csv and runtime_scaling.png to DIR, at once.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import torch

from lolzoo.errors import UserError
from lolzoo.io import atomic_dir
from lolzoo.lol.base import LoraBatch
from lolzoo.lol.registry import MODEL_KINDS, build_model

# name: (layers, width), from the GPT-3 paper's model table
GPT3_SHAPES = {
    "125M": (12, 768), "350M": (24, 1024), "760M": (24, 1536), "1.3B": (24, 2048),
    "2.7B": (32, 2560), "6.7B": (32, 4096), "13B": (40, 5120), "175B": (96, 12288),
}
RANK = 4
PREPROCESS_LORAS = 64
FORWARD_LORAS = 512
BATCH = 64
FLOAT = 4  # bytes


def random_batch(layers: int, width: int, size: int, generator: torch.Generator) -> LoraBatch:
    """Random LoRAs laid out as load_zoo gives them: (B, d, r) views of rank-major storage."""
    shape = (size, RANK, width)
    return LoraBatch([torch.randn(shape, generator=generator).mT / width ** 0.5 for _ in range(layers)],
                     [torch.randn(shape, generator=generator).mT / width ** 0.5 for _ in range(layers)])


def needed_bytes(kind: str, layers: int, width: int, hidden: int) -> int:
    """Rough peak memory of one batch: what the features and the first dense layer take."""
    lora = layers * 2 * width * RANK * FLOAT * BATCH
    if kind == "dense":  # features are the multiplied-out d×d matrices, and so is the first layer's input
        features = layers * width * width * FLOAT
        # fit_preprocessing and preprocess each hold a batch of features, plus one temporary
        return lora + 3 * features * BATCH + features * hidden
    if kind in ("mlp", "o-align"):  # the first layer sees every entry of U and V
        return 2 * lora + layers * 2 * width * RANK * FLOAT * hidden
    return 2 * lora


def read_floor(batch: LoraBatch, repeats: int) -> float:
    """Seconds per LoRA to read its bytes once from memory: one sum over all of the batch's
    floats laid out contiguously (memory bandwidth, no per-module overhead), best of a few."""
    flat = torch.cat([t.reshape(-1) for t in batch.U + batch.V])
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        float(flat.sum())
        best = min(best, time.perf_counter() - start)
    return best / batch.size


@torch.no_grad()
def time_model(kind: str, layers: int, width: int, generator: torch.Generator, repeats: int) -> tuple[float, float]:
    """Best of `repeats` timings (after one warm-up) of preprocessing and of the forward pass."""
    model = build_model(kind, [(width, width)] * layers, RANK, 1).eval()
    batch = random_batch(layers, width, PREPROCESS_LORAS, generator)
    model.fit_preprocessing(batch)
    preprocess = forward = float("inf")
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        features = model.preprocess(batch)
        seconds = (time.perf_counter() - start) / batch.size
        done, start = 0, time.perf_counter()
        while done < FORWARD_LORAS:  # the same 64 LoRAs, forwarded until 512 went through
            model.forward_features(features)
            done += batch.size
        if attempt:  # the first pass warms up
            preprocess, forward = min(preprocess, seconds), min(forward, (time.perf_counter() - start) / done)
    return preprocess, forward


def measure(kinds: list[str], sizes: list[str], memory_gb: float, hidden: int, repeats: int) -> list[dict]:
    """One row per (size, kind) and a read-floor row per size."""
    unknown = [size for size in sizes if size not in GPT3_SHAPES]
    if unknown:
        raise UserError(f"unknown sizes {unknown}; valid: {', '.join(GPT3_SHAPES)}")
    generator = torch.Generator().manual_seed(0)
    rows = []
    for size in sizes:
        layers, width = GPT3_SHAPES[size]
        floor = read_floor(random_batch(layers, width, BATCH, generator), repeats)
        rows.append({"size": size, "kind": "read floor", "preprocess_ms": "", "forward_ms": "",
                     "total_ms": floor * 1e3, "x_floor": 1.0, "note": ""})
        for kind in kinds:
            need = needed_bytes(kind, layers, width, hidden)
            if need > memory_gb * 2**30:
                rows.append({"size": size, "kind": kind, "preprocess_ms": "", "forward_ms": "", "total_ms": "",
                             "x_floor": "", "note": f"OOM: needs ~{need / 2**30:.0f} GB"})
                continue
            preprocess, forward = time_model(kind, layers, width, generator, repeats)
            total = preprocess + forward
            rows.append({"size": size, "kind": kind, "preprocess_ms": preprocess * 1e3, "forward_ms": forward * 1e3,
                         "total_ms": total * 1e3, "x_floor": total / floor, "note": ""})
            print(f"{size:>5} {kind:>8}: {total * 1e3:9.3f} ms per LoRA", flush=True)
    return rows


def add_arguments(parser, default_out: Path | None = None) -> None:
    parser.add_argument("--kinds", default=",".join(MODEL_KINDS), help="LoL models, comma-separated (default all)")
    parser.add_argument("--sizes", default=",".join(GPT3_SHAPES), help="GPT-3 sizes, comma-separated (default all)")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="skip (OOM) what would need more than this")
    parser.add_argument("--hidden", type=int, default=64, help="assumed first hidden width, for the memory estimate")
    parser.add_argument("--repeats", type=int, default=3, help="timings per model and size; the best is kept")
    parser.add_argument("--out", type=Path, required=default_out is None, default=default_out,
                        help="output folder (replaced as a whole)")


def run(args) -> int:
    rows = measure(args.kinds.split(","), args.sizes.split(","), args.memory_gb, args.hidden, args.repeats)
    write_outputs(rows, args.out)
    return 0


def fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_outputs(rows: list[dict], out: Path) -> None:
    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(fmt(row[c]) for c in columns) + " |")
    with atomic_dir(out, overwrite=True) as staging:  # a folder of measurements only: replaced whole
        with open(staging / "runtime_scaling.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
        plot(rows, staging / "runtime_scaling.png")
    print(f"\nwrote {out / 'runtime_scaling.csv'} and {out / 'runtime_scaling.png'}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(dict.fromkeys(r["size"] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind in dict.fromkeys(r["kind"] for r in rows):
        points = [(sizes.index(r["size"]), r["total_ms"]) for r in rows if r["kind"] == kind and r["total_ms"] != ""]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", linestyle="--" if kind == "read floor" else "-", label=kind)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_yscale("log")
    ax.set_xlabel("base model (GPT-3 family shapes, rank 4, one square matrix per layer)")
    ax.set_ylabel("preprocess + forward, ms per LoRA")
    ax.set_title("LoL runtime scaling on this CPU (missing points: OOM)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
