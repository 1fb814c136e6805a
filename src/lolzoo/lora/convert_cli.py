"""`lolzoo convert SRC --to {peft,diffusers,kohya} --out DEST`: one LoRA, another format, same ΔW."""

from __future__ import annotations

FORMATS = ("peft", "diffusers", "kohya")


def add_arguments(parser):
    parser.add_argument("source", metavar="SRC", help="LoRA file or folder (PEFT, diffusers, kohya)")
    parser.add_argument("--to", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", required=True, metavar="DEST",
                        help="output folder (peft, diffusers) or .safetensors file (kohya)")
    parser.add_argument("--base-model", help="base model name recorded in a PEFT adapter_config.json")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read a pickle SRC (.bin/.pt/.pth/.ckpt), weights-only; only for files you trust")


def run(args) -> int:
    from lolzoo.errors import UserError
    from lolzoo.lora import read_lora, write_diffusers, write_kohya, write_peft

    lora = read_lora(args.source, allow_pickle=args.allow_pickle)
    try:
        if args.to == "peft":
            write_peft(lora, args.out, base_model=args.base_model, overwrite=args.overwrite)
        elif args.to == "diffusers":
            write_diffusers(lora, args.out, overwrite=args.overwrite)
        else:
            write_kohya(lora, args.out)
    except FileExistsError:
        raise UserError(f"{args.out}: output exists and is not empty; pass --overwrite to replace it") from None
    print(f"{args.source} ({lora.source_format}, {len(lora.modules)} modules) -> {args.out} ({args.to})")
    return 0
