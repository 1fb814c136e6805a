"""Errors for broken configs."""

from lolzoo.errors import LolzooError


class ConfigError(LolzooError):
    """A broken config; the message names the key."""
