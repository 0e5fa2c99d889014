"""parse_json: a message that is a JSON object becomes fields (merged into the record, or nested under
one key). Anything else (plain text, JSON that is not an object, too long) is left as it is."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ..confparse import PARSE, SectionConfig, parse_size
from ..errors import ConfigError
from .base import ProcessorStats, TimedRecord


@dataclass(slots=True)
class ParseJsonConfig(SectionConfig):
    """``mode: merge`` puts the object's keys into the record (they win over existing keys, and the
    source field is removed unless ``keep_source``); ``mode: nest`` stores the object under ``target``."""

    SECTION: ClassVar[str] = "parse_json"
    source: str = "message"
    mode: Literal["merge", "nest"] = "merge"
    target: str = "json"
    keep_source: bool = False
    max_bytes: int = field(default=256 * 1024, metadata={PARSE: parse_size})  # bigger: left as text

    def validate(self) -> None:
        if not self.source:
            raise ConfigError("parse_json.source", "must not be empty")
        if self.mode == "nest" and not self.target:
            raise ConfigError("parse_json.target", "must not be empty with mode: nest")


class ParseJson:
    def __init__(self, config: ParseJsonConfig, name: str = "parse_json") -> None:
        self.name = name
        self.config = config
        self.stats = ProcessorStats()

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        source, config = self.config.source, self.config
        for _, record in records:
            text = record.get(source)
            if not isinstance(text, str | bytes) or len(text) > config.max_bytes:
                continue
            stripped = text.lstrip()
            if not stripped.startswith("{" if isinstance(stripped, str) else b"{"):
                continue
            try:
                value = json.loads(text)
            except ValueError:  # JSONDecodeError and UnicodeDecodeError (bytes that are not UTF-8)
                continue
            if not isinstance(value, dict):
                continue
            if config.mode == "nest":
                record[config.target] = value
                continue
            if not config.keep_source:
                del record[source]
            record.update(value)
        return records
