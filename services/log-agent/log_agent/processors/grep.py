"""grep: keep a record only when every ``include`` field matches its regex and no ``exclude`` field
matches its regex (a missing field never matches). Dotted names reach into nested maps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..confparse import PARSE, SectionConfig
from ..errors import ConfigError
from .base import ProcessorStats, TimedRecord, as_text, compile_regex, field_path, lookup


def _patterns(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(key, "expected a mapping of field name -> regular expression")
    for name, pattern in value.items():
        compile_regex(pattern, f"{key}.{name}")
    return {str(k): v for k, v in value.items()}


@dataclass(slots=True)
class GrepConfig(SectionConfig):
    SECTION: ClassVar[str] = "grep"
    include: dict[str, str] = field(default_factory=dict, metadata={PARSE: _patterns})
    exclude: dict[str, str] = field(default_factory=dict, metadata={PARSE: _patterns})

    def validate(self) -> None:
        if not self.include and not self.exclude:
            raise ConfigError("grep.include", "give include and/or exclude patterns")


def _compiled(patterns: dict[str, str]) -> list[tuple[tuple[str, ...], re.Pattern[str]]]:
    return [(field_path(name), re.compile(pattern)) for name, pattern in patterns.items()]


class Grep:
    def __init__(self, config: GrepConfig, name: str = "grep") -> None:
        self.name = name
        self.stats = ProcessorStats()
        self._include = _compiled(config.include)
        self._exclude = _compiled(config.exclude)

    def keeps(self, record: dict[str, Any]) -> bool:
        for path, pattern in self._include:
            text = as_text(lookup(record, path))
            if text is None or not pattern.search(text):
                return False
        for path, pattern in self._exclude:
            text = as_text(lookup(record, path))
            if text is not None and pattern.search(text):
                return False
        return True

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        kept = [item for item in records if self.keeps(item[1])]
        if len(kept) != len(records):
            self.stats.drop("filtered", len(records) - len(kept))
        return kept
