"""How many downloaded LoRAs per second `lolzoo predict` scores, per model, beside reading them alone.

Writes `--count` LoRAs shaped like the default world's as files into a temporary folder (half
PEFT adapter folders, half kohya .safetensors, by default), taken from a real zoo
(results/zoos/celeba.parquet, cycled when it holds fewer) or synthesized when there is none.
Then, per LoL model, in a fresh process each (so peak RSS is that run's own):

  end to end   `lolzoo predict --model DIR FOLDER` in process, stdout to /dev/null: discovery,
               reading, matching the layout, the forward pass, writing JSON lines, and loading
               the model once
  read only    find_loras + read_lora of the same files, nothing else

each after a warm-up on two LoRAs, so the imports (a few seconds, paid once per command) are
left out. It prints LoRAs/s of each, the share of the end-to-end time spent reading, and the
run's peak RSS with its growth over the RSS before the run (what streaming keeps bounded).
Models: results/lol/celeba/clip_score/<kind>/fold0/seed0 when fitted (the real use), else each kind
is fitted for one epoch on the zoo. Files are read warm (just written, in the page cache).

    python benchmarks/predict_throughput.py [--count 1000] [--layout mixed|peft|kohya]
        [--zoo results/zoos/celeba.parquet] [--models results/lol/celeba/clip_score] [--kinds glnet svd]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one LoRA at a time: threads only add overhead

KINDS = ("mlp", "o-align", "svd", "dense", "glnet")
REPO = Path(__file__).resolve().parents[1]
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_KB / 1024


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so the peak is this run's, not the imports'."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def zoo_loras(zoo_path: Path):
    """(LoRA of row i) per row of a packed zoo, α/r folded into U, each module at its true rank."""
    from lolzoo.lora import KNOWN_COMPONENTS, Lora, LoraModule
    from lolzoo.zoo.load import load_zoo

    zoo = load_zoo(zoo_path, columns=[])
    names = []
    for spec in zoo.modules:  # ModuleSpec.name is "component.path", or the path of a component-less adapter
        head, _, rest = spec.name.partition(".")
        names.append((head, rest) if head in KNOWN_COMPONENTS else ("", spec.name))
    for i in range(len(zoo)):
        modules = [LoraModule(component, path, zoo.U[k][i, :, :r].clone(), zoo.V[k][i, :, :r].clone(),
                              conv_kernel=spec.conv_kernel)
                   for k, ((component, path), spec, r) in enumerate(zip(names, zoo.modules, zoo.ranks[i].tolist()))]
        yield Lora(modules, "zoo", zoo.info.base_model)


def write_loras(zoo_path: Path, out: Path, count: int, layout: str) -> None:
    from lolzoo.lora import write_kohya, write_peft

    pool = list(zoo_loras(zoo_path))
    out.mkdir(parents=True)
    for number in range(count):
        lora = pool[number % len(pool)]
        as_peft = layout == "peft" or (layout == "mixed" and number % 2 == 0)
        if as_peft:
            write_peft(lora, out / f"lora-{number:05d}")
        else:
            write_kohya(lora, out / f"lora-{number:05d}.safetensors")


def ensure_zoo(zoo_path: Path, scratch: Path) -> tuple[Path, str]:
    if zoo_path.is_file():
        return zoo_path, f"real zoo {zoo_path}"
    from lolzoo.synthetic.generator import SyntheticZooSpec
    from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo

    path = scratch / "synthetic.parquet"
    write_synthetic_zoo(path, SyntheticZooSpec(count=200, seed=0))
    return path, f"synthetic zoo (no {zoo_path})"


def ensure_model(kind: str, models: Path, zoo_path: Path, scratch: Path) -> tuple[Path, str]:
    fitted = models / kind / "fold0" / "seed0"
    if (fitted / "model.json").is_file():
        return fitted, "fitted by the workflow"
    from lolzoo.cli import main

    out = scratch / "fits" / kind
    target = "clip_score" if "celeba" in zoo_path.name else "frob_norm_total"
    with contextlib.redirect_stdout(io.StringIO()):
        if main(["fit", "--zoo", str(zoo_path), "--task", "regression", "--target", target, "--model", kind,
                 "--out", str(out), "--epochs", "1"]) != 0:
            raise SystemExit(f"fitting {kind} failed")
    return out, "fitted here for 1 epoch"


def end_to_end(model: str, folder: str, warm_up: str) -> dict:
    """Runs in its own process: `lolzoo predict` exactly as the CLI runs it, after one LoRA to warm up
    (imports: a command-line run pays them once, a few seconds, on top)."""
    import torch

    from lolzoo.cli import main

    torch.set_num_threads(1)
    err = io.StringIO()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(err):
        main(["predict", "--model", model, warm_up])
        reset_peak_rss()
        before = rss_mb()
        start = time.perf_counter()
        code = main(["predict", "--model", model, folder])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "code": code, "summary": err.getvalue().strip().splitlines()[-1],
            "rss_before": before, "peak_rss": peak_rss_mb()}


def read_only(folder: str, warm_up: str) -> dict:
    """Runs in its own process: discovery and reading, nothing else (after one LoRA to warm up)."""
    import torch

    from lolzoo.lora import read_lora
    from lolzoo.lora.discover import find_loras

    torch.set_num_threads(1)
    read_lora(warm_up)
    reset_peak_rss()
    before = rss_mb()
    start = time.perf_counter()
    count = sum(1 for path in find_loras([folder]) if read_lora(path) is not None)
    return {"seconds": time.perf_counter() - start, "count": count, "rss_before": before, "peak_rss": peak_rss_mb()}


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def in_fresh_process(function, *args) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="LoRA files to write and score")
    parser.add_argument("--layout", choices=["mixed", "peft", "kohya"], default="mixed",
                        help="mixed: even LoRAs as PEFT folders, odd ones as kohya files")
    parser.add_argument("--zoo", type=Path, default=REPO / "results/zoos/celeba.parquet")
    parser.add_argument("--models", type=Path, default=REPO / "results/lol/celeba/clip_score",
                        help="a folder of <kind>/fold0/seed0 fitted models (fit-cv folders); kinds missing there are fitted on the zoo")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--tmp-dir", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="predict-throughput-") as tmp:
        scratch = Path(tmp)
        zoo_path, zoo_note = ensure_zoo(args.zoo, scratch)
        folder = scratch / "loras"
        start = time.perf_counter()
        write_loras(zoo_path, folder, args.count, args.layout)
        write_seconds = time.perf_counter() - start
        size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        models = {kind: ensure_model(kind, args.models, zoo_path, scratch) for kind in args.kinds}

        warm_up = scratch / "warm-up"
        write_loras(zoo_path, warm_up, 2, args.layout)  # one PEFT folder, one kohya file: every import
        read = in_fresh_process(read_only, str(folder), str(warm_up / "lora-00000"))
        if read["count"] != args.count:
            raise SystemExit(f"found {read['count']} LoRAs, wrote {args.count}")
        runs = {kind: in_fresh_process(end_to_end, str(path), str(folder), str(warm_up))
                for kind, (path, _) in models.items()}

    import torch

    print(f"{args.count} LoRAs ({args.layout}: PEFT folders / kohya files) from the {zoo_note}, "
          f"{size_mb:.1f} MB on disk, written in {write_seconds:.1f} s; read warm")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, torch {torch.__version__}, 1 thread per process")
    print(f"| {'model':<8} | {'model source':<24} | {'end to end LoRAs/s':>18} | {'read only LoRAs/s':>17} | "
          f"{'reading share':>13} | {'peak RSS MB':>11} | {'RSS growth MB':>13} | {'result':<24} |")
    print(f"|{'-' * 10}|{'-' * 26}|{'-' * 19}:|{'-' * 18}:|{'-' * 14}:|{'-' * 12}:|{'-' * 14}:|{'-' * 26}|")
    read_rate = args.count / read["seconds"]
    for kind, run in runs.items():
        rate = args.count / run["seconds"]
        summary, reading_share = run["summary"].removeprefix("lolzoo predict: "), read["seconds"] / run["seconds"]
        print(f"| {kind:<8} | {models[kind][1]:<24} | {rate:18.0f} | {read_rate:17.0f} | {reading_share:13.0%} | "
              f"{run['peak_rss']:11.0f} | {run['peak_rss'] - run['rss_before']:13.0f} | {summary:<24} |")
    print(f"read only: peak RSS {read['peak_rss']:.0f} MB, growth {read['peak_rss'] - read['rss_before']:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
