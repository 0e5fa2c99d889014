"""What every processor is: a callable over a batch of ``(time_ns, record)`` pairs that returns the
batch to keep (records changed in place, dropped or joined). Processors run inside the input, before
the records are packed and spooled, so a redaction means the secret never reaches the disk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from ..errors import ConfigError

TimedRecord = tuple[int, dict[str, Any]]


class Processor(Protocol):
    name: str
    stats: ProcessorStats

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]: ...


class ProcessorStats:
    """``dropped[reason]``: records a processor removed on purpose (filtered, rate limited)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.dropped: dict[str, int] = {}

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + count


def compile_regex(pattern: Any, key: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(key, f"expected a regular expression string, got {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ConfigError(key, f"invalid regular expression: {err}") from None


def field_path(name: str) -> tuple[str, ...]:
    """``"kubernetes.labels.app"`` -> the keys to walk into nested maps."""
    return tuple(name.split("."))


def lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def as_text(value: Any) -> str | None:
    """A value a regex can look at: strings as they are, bytes losslessly (surrogateescape), numbers
    and booleans as written; maps and lists are not matched."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def walk_strings(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every str/bytes value under ``value`` (maps and lists, recursively)."""
    stack = [value]
    while stack:
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, item in items:
            if isinstance(item, str | bytes):
                yield current, key
            elif isinstance(item, dict | list):
                stack.append(item)
