"""Parsers every config dataclass shares: a mapping -> dataclass with unknown keys rejected, and the
value types people write by hand (sizes such as "8MiB", durations such as "500ms", "host:port").

Every failure is a ConfigError whose key names the setting (``<section>.<key>``), so a bad YAML file or
environment variable stops start-up with a message the operator can act on.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Self, TypeVar

import sidecar_common.errors
import sidecar_common.http

from .errors import ConfigError

T = TypeVar("T")

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
}  # fmt: skip
_DURATION_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}
_NUMBER_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

# Field metadata key: a parser (value, key) -> parsed value used instead of the type-driven coercion.
PARSE = "parse"


def parse_size(value: Any, key: str) -> int:
    """Bytes from an int or a string like "8MiB", "512 KiB", "10MB" (K/M/G alone mean KiB/MiB/GiB)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(key, f"must not be negative, got {value}")
        return value
    match = _NUMBER_WITH_UNIT.match(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ConfigError(key, f"not a size: {value!r} (examples: 1048576, '512KiB', '8MiB', '1GB')")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(value: Any, key: str) -> float:
    """Seconds from a number or a string like "500ms", "5s", "2m", "1h"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(key, f"must not be negative, got {value}")
        return float(value)
    match = _NUMBER_WITH_UNIT.match(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _DURATION_UNITS:
        raise ConfigError(key, f"not a duration: {value!r} (examples: 5, '500ms', '5s', '2m')")
    return float(match.group(1)) * _DURATION_UNITS[unit]


def parse_listen(value: Any, key: str) -> tuple[str, int]:
    """(host, port) from "host:port", "[::1]:port" or ":port" (all interfaces): sidecar_common's one
    parser, as a pair for the socket inputs (which take no Unix path here)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        value = f"[{value[0]}]:{value[1]}"  # already parsed (a config round-tripped through asdict)
    if not isinstance(value, str) or value.startswith("unix:"):
        raise ConfigError(key, f"expected host:port, got {value!r}")
    try:
        listen = sidecar_common.http.parse_listen(value, key)
    except sidecar_common.errors.ConfigError as err:  # as the agent's own, for its handlers
        raise ConfigError(err.key, err.message) from None
    return listen.host, listen.port


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (sidecar_common's rule: 127.0.0.0/8, ::1, localhost)."""
    return sidecar_common.http.Listen(host=host, port=0).is_loopback()


def parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ConfigError(key, f"expected true or false, got {value!r}")


class SectionConfig:
    """Base of a section's config dataclass: ``from_dict`` builds it from a mapping (see
    ``dataclass_from_dict``), then ``validate`` checks what one field alone cannot tell."""

    __slots__ = ()  # subclasses may be slots dataclasses
    SECTION: ClassVar[str]  # the key prefix in error messages, e.g. "spool"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        config = dataclass_from_dict(cls, data, cls.SECTION)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError naming the key when the fields do not fit together."""


def dataclass_from_dict(cls: type[T], data: Any, section: str) -> T:
    """Build ``cls`` from a mapping: unknown keys, missing required keys and wrong types raise
    ConfigError("<section>.<key>", ...). Values are coerced from the field's type annotation (strings
    such as "true" or "5" are accepted because URL query strings and env vars only carry strings)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(section, f"expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        field = known.get(key)
        if field is None:
            raise ConfigError(f"{section}.{key}", f"unknown key (known keys: {', '.join(sorted(known))})")
        parser: Callable[[Any, str], Any] | None = field.metadata.get(PARSE)
        full_key = f"{section}.{key}"
        kwargs[key] = parser(value, full_key) if parser else coerce(value, hints[key], full_key)
    for name, field in known.items():
        missing = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if missing and name not in kwargs:
            raise ConfigError(f"{section}.{name}", "required key is missing")
    return cls(**kwargs)


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check (and gently convert) ``value`` against a type annotation; raise ConfigError naming ``key``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        return coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is dict:
        return _coerce_str_map(value, key)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return tuple(coerce(item, args[0], f"{key}[{i}]") for i, item in enumerate(items))
    return _coerce_scalar(value, annotation, key)


def _coerce_scalar(value: Any, annotation: Any, key: str) -> Any:
    if annotation is bool:
        return parse_bool(value, key)
    if annotation in (int, float):
        return _coerce_number(value, annotation, key)
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # YAML reads `tenant_id: 42` as an int
        raise ConfigError(key, f"expected a string, got {type(value).__name__}")
    return value


def _coerce_number(value: Any, annotation: type, key: str) -> int | float:
    if isinstance(value, str):
        try:
            value = annotation(value.strip())
        except ValueError:
            raise ConfigError(key, f"expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"expected a number, got {type(value).__name__}")
    if annotation is int and not float(value).is_integer():
        raise ConfigError(key, f"expected a whole number, got {value!r}")
    return annotation(value)


def _coerce_str_map(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
    return {str(k): _coerce_scalar(v, str, f"{key}.{k}") for k, v in value.items()}


def secret_values(config: Any) -> set[str]:
    """The values of a config dataclass's secret fields (those kept out of repr: passwords, tokens,
    shared keys, header values), so error text can be scrubbed of them wherever they turn up."""
    values: set[str] = set()
    for item in dataclasses.fields(config):
        if item.repr:
            continue
        value = getattr(config, item.name)
        candidates = value.values() if isinstance(value, Mapping) else [value]
        values.update(v for v in candidates if isinstance(v, str) and v)
    return values


def rekey(err: ConfigError, prefix: str) -> ConfigError:
    """The same error under another section: "http.timeout" -> "outputs[1].timeout"."""
    _, dot, rest = err.key.partition(".")
    return ConfigError(f"{prefix}.{rest}" if dot else prefix, err.message)
