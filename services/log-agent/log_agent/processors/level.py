"""level: one vocabulary for severities from every source (syslog numbers and names, journald
PRIORITY, pino/bunyan numbers, "WARN", "E", "fatal"...), written to one field.

Result values: trace, debug, info, notice, warning, error, critical, alert, emergency. A value that
means nothing known is left as it was (and counted), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..confparse import SectionConfig
from ..errors import ConfigError
from .base import ProcessorStats, TimedRecord

SYSLOG_NAMES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
_ALIASES = {
    "trace": "trace", "trc": "trace", "t": "trace", "verbose": "trace",
    "debug": "debug", "dbg": "debug", "d": "debug",
    "info": "info", "inf": "info", "i": "info", "information": "info", "informational": "info",
    "notice": "notice", "n": "notice",
    "warning": "warning", "warn": "warning", "wrn": "warning", "w": "warning",
    "error": "error", "err": "error", "e": "error",
    "critical": "critical", "crit": "critical", "fatal": "critical", "f": "critical", "c": "critical",
    "alert": "alert", "a": "alert",
    "emergency": "emergency", "emerg": "emergency", "panic": "emergency",
}  # fmt: skip
# pino / bunyan numeric levels (10 trace ... 60 fatal); 0-7 are syslog severities
_PINO = {10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical"}


def normalise(value: Any) -> str | None:
    """The normalised name of a level value, or None when it is not a level."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            value = int(text)
        else:
            return _ALIASES.get(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    if 0 <= number <= 7:
        return SYSLOG_NAMES[number]
    return _PINO.get(number)


@dataclass(slots=True)
class LevelConfig(SectionConfig):
    """The first of ``sources`` present in a record is normalised into ``target``."""

    SECTION: ClassVar[str] = "level"
    sources: tuple[str, ...] = ("level", "severity", "lvl", "loglevel", "log_level", "priority")
    target: str = "level"

    def validate(self) -> None:
        if not self.sources:
            raise ConfigError("level.sources", "name at least one field")
        if not self.target:
            raise ConfigError("level.target", "must not be empty")


class Level:
    def __init__(self, config: LevelConfig, name: str = "level") -> None:
        self.name = name
        self.config = config
        self.stats = ProcessorStats()
        self.unknown_total = 0  # values found that are no known level (left as they were)

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        sources, target = self.config.sources, self.config.target
        for _, record in records:
            for source in sources:
                if source in record:
                    level = normalise(record[source])
                    if level is None:
                        self.unknown_total += 1
                    else:
                        record[target] = level
                    break
        return records
