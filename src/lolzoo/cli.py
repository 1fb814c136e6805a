"""`lolzoo <verb>`: every workflow step is one of these calls.

Each verb lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
this file only wires them together and turns known errors into one clear line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> (module, one-line help). Modules are imported lazily so `lolzoo recipes` stays fast.
VERBS = {
    "recipes": ("lolzoo.recipes.cli", "list every LoRA a config asks for (CSV on stdout)"),
    "validate": ("lolzoo.config.cli", "check a config file against the schema"),
    "inspect": ("lolzoo.lora.cli", "read LoRA files or folders and describe their modules"),
    "convert": ("lolzoo.lora.convert_cli", "convert a LoRA between PEFT, diffusers and kohya formats"),
    "pack": ("lolzoo.zoo.cli", "pack LoRA folders and a label CSV into one Parquet zoo"),
    "synthetic-zoo": ("lolzoo.zoo.synthetic_cli", "write a synthetic zoo with GL-invariant labels"),
}


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit code 2."""


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="lolzoo", description=__doc__.splitlines()[0])
    from lolzoo import __version__

    parser.add_argument("--version", action="version", version=f"lolzoo {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    modules = {}
    for verb, (module_name, help_text) in VERBS.items():
        module = importlib.import_module(module_name)
        verb_parser = sub.add_parser(verb, help=help_text, description=help_text)
        module.add_arguments(verb_parser)
        modules[verb] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    from lolzoo.config.errors import ConfigError
    from lolzoo.lora.types import LoraFormatError

    try:
        return int(modules[args.verb].run(args) or 0)
    except (UserError, ConfigError, LoraFormatError, FileNotFoundError) as err:
        print(f"lolzoo {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lolzoo recipes ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
