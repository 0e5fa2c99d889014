"""Value types (and builders of samples) shared by collectors, checks, exposition and telemetry. They
import nothing else."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"  # value 1, the labels carry the information
    UNTYPED = "untyped"  # node_exporter's vmstat/netstat fields and textfile untyped metrics
    # Not exported: free text (an error message) for /status and the dashboard, which as a label value
    # would make a new series per distinct text.
    NOTE = "note"


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


def gauge(metric: str, value: float, help: str, /, **labels: str) -> Sample:
    return Sample(metric, float(value), Kind.GAUGE, help, tuple(labels.items()))


def counter(metric: str, value: float, help: str, /, **labels: str) -> Sample:
    return Sample(metric, float(value), Kind.COUNTER, help, tuple(labels.items()))


def info(metric: str, help: str, /, **labels: str) -> Sample:
    return Sample(metric, 1.0, Kind.INFO, help, tuple(labels.items()))


def untyped(metric: str, value: float, help: str, /, **labels: str) -> Sample:
    return Sample(metric, float(value), Kind.UNTYPED, help, tuple(labels.items()))


def note(metric: str, /, **labels: str) -> Sample:
    return Sample(metric, 1.0, Kind.NOTE, "", tuple(labels.items()))


class Level(enum.IntEnum):
    """A check's state. UNKNOWN (not measured on this device) sorts below OK, so the worst of several
    levels is never "unknown" while anything was measured."""

    UNKNOWN = -1
    OK = 0
    WARNING = 1
    CRITICAL = 2
