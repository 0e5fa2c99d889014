"""The contract of every collector: read one area of the device, return samples, raise on failure."""

from __future__ import annotations

import enum
from typing import Protocol

from ..models import Sample


class Cadence(enum.StrEnum):
    FAST = "fast"  # cheap reads (/proc/stat, meminfo): every sample tick
    SLOW = "slow"  # expensive reads (temperatures, process lists, HTTP to sidecars, engine API)


class Collector(Protocol):
    """One area per module (cpu, memory, filesystem, ...). ``collect`` raises CollectorError (or any
    OSError) when it cannot read; the registry records that collector's failure and goes on."""

    name: str
    cadence: Cadence

    def collect(self) -> list[Sample]: ...
