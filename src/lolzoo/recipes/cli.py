"""`lolzoo recipes CONFIG`: every LoRA the config asks for, as CSV (stdout or --out)."""

from __future__ import annotations

import json
import sys

from lolzoo.errors import UserError
from lolzoo.config import load_config, validate_config
from lolzoo.recipes.zoos import all_recipes, recipes_table


def add_arguments(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("config", nargs="?", help="a YAML config file, e.g. config/paper.yaml")
    source.add_argument("--config-json", help="the config as a JSON string (how the workflow passes it)")
    parser.add_argument("--zoo", action="append", help="only this zoo (repeatable)")
    parser.add_argument("--out", help="write the CSV here instead of stdout")


def run(args) -> int:
    config = validate_config(json.loads(args.config_json)) if args.config_json else load_config(args.config)
    unknown = sorted(set(args.zoo or []) - set(config["zoos"]))
    if unknown:
        raise UserError(f"no zoo named {', '.join(unknown)} in the config (zoos: {', '.join(config['zoos'])})")
    table = recipes_table(all_recipes(config, args.zoo))
    if args.out:
        from lolzoo.io import atomic_write_text

        atomic_write_text(args.out, table.to_csv(index=False))
    else:
        table.to_csv(sys.stdout, index=False)
    return 0
