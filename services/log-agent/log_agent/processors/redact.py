"""redact: replace what a regex matches in string values before the record is spooled, so a secret
an app printed never reaches the disk or an output. Bytes values (journal binary fields) are matched
losslessly and stay bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..confparse import PARSE, SectionConfig
from ..errors import ConfigError
from .base import ProcessorStats, TimedRecord, compile_regex, walk_strings


def _pattern_list(value: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(key, "expected a regular expression or a list of them")
    for index, pattern in enumerate(items):
        compile_regex(pattern, f"{key}[{index}]")
    return tuple(items)


@dataclass(slots=True)
class RedactConfig(SectionConfig):
    """``fields`` empty: every string value anywhere in the record (nested maps and lists too)."""

    SECTION: ClassVar[str] = "redact"
    patterns: tuple[str, ...] = field(metadata={PARSE: _pattern_list})
    replacement: str = "[REDACTED]"
    fields: tuple[str, ...] = ()


class Redact:
    def __init__(self, config: RedactConfig, name: str = "redact") -> None:
        self.name = name
        self.stats = ProcessorStats()
        self.redacted_total = 0  # values changed
        # One alternation: each value is scanned once, whatever the number of patterns.
        self._pattern = re.compile("|".join(f"(?:{p})" for p in config.patterns))
        self._replacement = config.replacement
        self._fields = config.fields

    def _clean(self, value: str | bytes) -> str | bytes | None:
        """The redacted value, or None when nothing matched."""
        text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
        result, count = self._pattern.subn(lambda _: self._replacement, text)
        if not count:
            return None
        self.redacted_total += 1
        return result.encode("utf-8", "surrogateescape") if isinstance(value, bytes) else result

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        for _, record in records:
            if self._fields:
                targets = [(record, name) for name in self._fields
                           if isinstance(record.get(name), str | bytes)]
            else:
                targets = list(walk_strings(record))
            for container, key in targets:
                cleaned = self._clean(container[key])
                if cleaned is not None:
                    container[key] = cleaned
        return records
