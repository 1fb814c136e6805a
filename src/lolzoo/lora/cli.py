"""`lolzoo inspect PATH...`: read LoRA files or folders and describe them, one line (or object) each.

Unreadable inputs are reported as `error: <path>: <reason>` on stderr and make the exit code 1;
the others are still described. torch is imported only when running, so --help stays fast.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def add_arguments(parser):
    parser.add_argument("paths", nargs="+", metavar="PATH", help="LoRA file or folder (PEFT, diffusers, kohya)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read pickle files (.bin/.pt/.pth/.ckpt), weights-only; only for files you trust")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per PATH")


def run(args) -> int:
    from lolzoo.lora import LoraFormatError, read_lora

    reports, refused = [], 0
    for path in map(Path, args.paths):  # normalised as read_lora names it in its messages
        try:
            reports.append(describe(path, read_lora(path, allow_pickle=args.allow_pickle)))
        except LoraFormatError as err:
            refused += 1
            message = str(err) if str(err).startswith(str(path)) else f"{path}: {err}"
            print(f"error: {message}", file=sys.stderr)
            reports.append({"path": str(path), "error": message})
        if not args.json and "error" not in reports[-1]:
            print(summary_line(reports[-1]))
    if args.json:
        json.dump(reports, sys.stdout, indent=2)
        print()
    return 1 if refused else 0


def describe(path, lora) -> dict:
    """Plain-data description of a LoRA (what `inspect --json` prints)."""
    components = Counter(m.component or "model" for m in lora.modules)
    alphas = {m.alpha for m in lora.modules}
    return {
        "path": str(path),
        "format": lora.source_format,
        "base_model": lora.base_model,
        "modules": len(lora.modules),
        "components": dict(sorted(components.items())),
        "conv_modules": sum(m.conv_kernel is not None for m in lora.modules),
        "ranks": sorted({m.rank for m in lora.modules}),
        "alphas": sorted(a for a in alphas if a is not None) + ([None] if None in alphas else []),
        "parameters": lora.num_parameters,
        "dtypes": sorted({str(m.U.dtype).removeprefix("torch.") for m in lora.modules}),
    }


def summary_line(report: dict) -> str:
    components = ", ".join(f"{name} {count}" for name, count in report["components"].items())
    alphas = ",".join("none" if a is None else f"{a:g}" for a in report["alphas"])
    conv = f" ({report['conv_modules']} conv)" if report["conv_modules"] else ""
    base = f"  base={report['base_model']}" if report["base_model"] else ""
    return (f"{report['path']}: {report['format']}  modules={report['modules']}{conv} [{components}]  "
            f"ranks={','.join(map(str, report['ranks']))}  alphas={alphas}  "
            f"params={report['parameters']:,}  dtype={','.join(report['dtypes'])}{base}")
