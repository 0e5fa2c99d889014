"""The last hour of a few headline values, in RAM only (no SD card writes), for the dashboard plots."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .snapshot import Snapshot, data_filesystem, log_backlog, memory_used_bytes, weakest_wifi_signal


@dataclass(frozen=True)
class Series:
    key: str
    title: str
    unit: str
    read: Callable[[Snapshot], float | None]
    fallback_for: str | None = None  # plotted instead of that series while only this one has points


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100


def _cpu(snap: Snapshot) -> float | None:
    return _percent(snap.value("device_cpu_usage_ratio"))


def _memory(snap: Snapshot) -> float | None:
    memory = memory_used_bytes(snap)
    return None if memory is None else _percent(memory[0] / memory[1])


def _disk(snap: Snapshot) -> float | None:
    usage = data_filesystem(snap)
    return None if usage is None else _percent(usage.used_ratio)


def _wifi(snap: Snapshot) -> float | None:
    weakest = weakest_wifi_signal(snap)
    return None if weakest is None else weakest.value


SERIES = (
    Series("cpu", "CPU", "%", _cpu),
    Series("memory", "Memory", "%", _memory),
    Series("temperature", "Temperature", "°C", lambda snap: snap.value("device_cpu_temperature_celsius")),
    Series("disk", "Data disk", "%", _disk),
    Series("wifi_signal", "WiFi signal", "dBm", _wifi),
    Series("log_backlog", "Log backlog", "records", lambda snap: log_backlog(snap)[0]),
    Series("log_backlog_bytes", "Log backlog", "bytes", lambda snap: log_backlog(snap)[1], "log_backlog"),
)


@dataclass(frozen=True)
class Point:
    time: float
    values: tuple[float | None, ...]  # in SERIES order


class History:
    """A fixed-size ring buffer: ``span_seconds / interval_seconds`` points, the oldest dropped first."""

    def __init__(self, span_seconds: float, interval_seconds: float) -> None:
        self.span_seconds = span_seconds
        self._points: deque[Point] = deque(maxlen=math.ceil(span_seconds / interval_seconds) + 1)
        self._lock = threading.Lock()  # the sampler appends while request threads read

    def record(self, snap: Snapshot) -> None:
        point = Point(snap.taken_at, tuple(series.read(snap) for series in SERIES))
        with self._lock:
            self._points.append(point)

    def points(self) -> list[Point]:
        with self._lock:
            return list(self._points)

    def series(self, key: str) -> list[tuple[float, float]]:
        """(time, value) pairs of one series, skipping samples where it was not measured."""
        index = next(i for i, series in enumerate(SERIES) if series.key == key)
        return [(p.time, v) for p in self.points() if (v := p.values[index]) is not None]

    def to_json(self) -> dict[str, object]:
        return {
            s.key: {"title": s.title, "unit": s.unit, "points": [list(pair) for pair in self.series(s.key)]}
            for s in SERIES
        }
