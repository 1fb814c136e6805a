"""`lolzoo synthetic-zoo --out ZOO.parquet --count N --seed S`: a zoo with known GL-invariant labels.

See lolzoo.synthetic.generator for the LoRAs and the labels, lolzoo.zoo.synthetic_zoo for the packing.
"""

from __future__ import annotations

from pathlib import Path

from lolzoo.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="the zoo file to write (.parquet)")
    parser.add_argument("--count", required=True, type=int, help="number of LoRAs")
    parser.add_argument("--seed", type=int, default=0, help="the zoo is a pure function of the seed (default 0)")
    parser.add_argument("--ranks", nargs="+", default=["4"], metavar="R",
                        help="ranks to draw from, one per LoRA: `--ranks 4` or `--ranks 1 2 4 8` (default 4)")
    parser.add_argument("--reparametrise", action="store_true",
                        help="store every LoRA as (U g, V g^-T) with its own random g in GL(r)")
    parser.add_argument("--alpha", type=float, help="lora_alpha of every module (default: none, scale 1)")
    parser.add_argument("--zoo", default="synthetic", help="zoo name (default synthetic)")


def run(args) -> int:
    from lolzoo.synthetic.generator import SyntheticZooSpec
    from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo

    try:
        spec = SyntheticZooSpec(count=args.count, seed=args.seed, ranks=parse_ranks(args.ranks),
                                reparametrise=args.reparametrise, alpha=args.alpha)
    except ValueError as err:
        raise UserError(str(err)) from err
    summary = write_synthetic_zoo(args.out, spec, zoo_name=args.zoo)
    print(f"wrote {summary.num_loras} synthetic LoRAs (ranks {list(spec.ranks)}) to {summary.path}")
    return 0


def parse_ranks(values: list[str]) -> tuple[int, ...]:
    """`--ranks 1 2 4` and `--ranks 1,2,4` both give (1, 2, 4)."""
    try:
        return tuple(int(part) for value in values for part in str(value).split(",") if part.strip())
    except ValueError as err:
        raise UserError(f"--ranks takes integers, got {' '.join(map(str, values))}") from err
