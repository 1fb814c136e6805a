"""Loading and validating workflow configs (JSON schema with defaults, plus cross-checks)."""

from lolzoo.config.errors import ConfigError
from lolzoo.config.load import load_config, read_yaml, validate_config

__all__ = ["ConfigError", "load_config", "read_yaml", "validate_config"]
