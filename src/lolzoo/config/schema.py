"""JSON-schema validation of a config, filling in the schema's defaults."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from lolzoo.config.errors import ConfigError

# The schema lives in workflow/schemas/ (where Snakemake users look for it); the package
# reaches it through a symlink so `lolzoo recipes` validates exactly as the workflow does.
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@lru_cache(maxsize=1)
def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _with_defaults(validator_class):
    """A validator that also writes each property's `default` into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, _copy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)


def key_of(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def describe(error: jsonschema.ValidationError) -> str:
    """One line naming the key; oneOf errors are reduced to their most telling branch."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.message)))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return describe(deepest)
        return f"config key '{key_of(error)}': {error.instance!r} is not a valid value ({error.schema.get('description', 'see config/README.md').strip()})"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        if error.validator == "unevaluatedProperties":  # keys a matching branch defines are known too
            named = set(re.findall(r"'([^']*)'", error.message.partition("(")[2]))
            unknown = [k for k in unknown if k in named] or unknown
        prefix = key_of(error)
        names = ", ".join(f"'{k}'" if prefix == "(top level)" else f"'{prefix}.{k}'" for k in unknown)
        hint = f" (known keys here: {', '.join(allowed)})" if allowed else ""
        return f"unknown config key {names or prefix}{hint}"
    return f"config key '{key_of(error)}': {error.message}"


def follows_from_a_deeper_error(error: jsonschema.ValidationError, errors) -> bool:
    """An unevaluatedProperties error of an object that also holds a broken value: a zoo type's
    branch that fails on one value (say a bad `precision`) leaves every key it defines unevaluated,
    so they would all be reported as unknown, hiding the one real problem."""
    if error.validator != "unevaluatedProperties":
        return False
    path = list(error.absolute_path)
    return any(len(other.absolute_path) > len(path) and list(other.absolute_path)[:len(path)] == path
               for other in errors)


def validate_schema(config: dict) -> dict:
    """Validate in place (defaults filled); raise ConfigError naming the first broken key."""
    validator = DefaultFillingValidator(load_schema())
    errors = list(validator.iter_errors(config))
    errors = [e for e in errors if not follows_from_a_deeper_error(e, errors)]
    errors = sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        lines = [describe(e) for e in errors]
        more = f" (and {len(lines) - 1} more problem(s): {'; '.join(lines[1:4])})" if len(lines) > 1 else ""
        raise ConfigError(lines[0] + more)
    return config
