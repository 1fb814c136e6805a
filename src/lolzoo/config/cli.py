"""`lolzoo validate CONFIG`: check a config without running anything."""

from __future__ import annotations

from lolzoo.config.load import load_config


def add_arguments(parser):
    parser.add_argument("config", help="a YAML config file, e.g. config/config.yaml")


def run(args) -> int:
    config = load_config(args.config)
    counts = ", ".join(f"{name}: {zoo['count']} LoRAs" for name, zoo in config["zoos"].items())
    print(f"{args.config}: valid (world '{config['world']}'; {counts})")
    return 0
