"""Load a config file (or a dict Snakemake already read) into a validated config."""

from __future__ import annotations

from pathlib import Path

import yaml

from lolzoo.config.errors import ConfigError
from lolzoo.config.schema import validate_schema
from lolzoo.config.semantics import check_semantics


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file '{path}' is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, got {type(data).__name__}")
    return data


def validate_config(config: dict, base_dir: str | Path = ".") -> dict:
    """Validate in place: schema (filling defaults), then cross-references and paths."""
    validate_schema(config)
    check_semantics(config, Path(base_dir))
    return config


def load_config(path: str | Path, base_dir: str | Path = ".") -> dict:
    return validate_config(read_yaml(path), base_dir)
