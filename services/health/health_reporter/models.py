"""Value types shared by collectors, checks, exposition and telemetry. They import nothing else."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"  # value 1, the labels carry the information


@dataclass(frozen=True, slots=True)
class Sample:
    """One metric sample. ``labels`` is a tuple of (name, value) pairs so samples stay hashable."""

    name: str
    value: float
    kind: Kind = Kind.GAUGE
    help: str = ""
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, key: str, default: str = "") -> str:
        return dict(self.labels).get(key, default)


class Level(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
