"""CPU seconds per core and mode (node_exporter names) and utilisation ratios since the previous sample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from ..models import Sample
from .common import BaseCollector, counter, gauge

SECONDS_HELP = "Seconds the CPUs spent in each mode."
GUEST_HELP = "Seconds the CPUs spent in guests (VMs) for each mode."
USAGE_HELP = "Share of the whole CPU that was busy since the previous fast sample (0-1)."
CORE_USAGE_HELP = "Share of one core that was busy since the previous fast sample (0-1)."

# node_exporter's modes; psutil's guest times are already inside user/nice, so they are exported apart.
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def busy_ratio(before: Mapping[str, float], after: Mapping[str, float]) -> float | None:
    """Busy share between two readings (mode -> seconds); None when no time passed or counters reset."""
    deltas = {mode: after.get(mode, 0.0) - before.get(mode, 0.0) for mode in MODES}
    total = sum(deltas.values())
    if total <= 0 or any(delta < 0 for delta in deltas.values()):
        return None
    idle = deltas["idle"] + deltas["iowait"]
    return min(1.0, max(0.0, 1.0 - idle / total))


class CpuCollector(BaseCollector):
    """One /proc/stat read per sample serves both the counters and the ratios. The baseline is the
    collector's own previous reading rather than psutil.cpu_percent's, which is kept per thread and
    shared with every other cpu_percent caller in that thread."""

    name = "cpu"

    def __init__(self, paths: Any, options: Any = None) -> None:
        super().__init__(paths, options)
        self._previous: list[Any] | None = None

    def collect(self) -> list[Sample]:
        per_core = self.read_with_psutil("stat", lambda: psutil.cpu_times(percpu=True))
        samples = [
            counter(
                "node_cpu_seconds_total", getattr(times, mode, 0.0), SECONDS_HELP, cpu=str(index), mode=mode
            )
            for index, times in enumerate(per_core)
            for mode in MODES
        ]
        # psutil's guest times (also counted in user and nice), node_exporter's node_cpu_guest_seconds_total
        samples += [
            counter(
                "node_cpu_guest_seconds_total", getattr(times, field), GUEST_HELP, cpu=str(index), mode=mode
            )
            for index, times in enumerate(per_core)
            for field, mode in (("guest", "user"), ("guest_nice", "nice"))
            if hasattr(times, field)
        ]
        samples += self._usage(per_core)
        self._previous = per_core
        return samples

    def _usage(self, per_core: list[Any]) -> list[Sample]:
        if self._previous is None or len(self._previous) != len(per_core):
            return []  # the first reading has nothing to compare with
        samples = []
        for index, (before, after) in enumerate(zip(self._previous, per_core, strict=True)):
            ratio = busy_ratio(_modes(before), _modes(after))
            if ratio is not None:
                samples.append(gauge("device_cpu_core_usage_ratio", ratio, CORE_USAGE_HELP, cpu=str(index)))
        whole = busy_ratio(_summed(self._previous), _summed(per_core))
        if whole is not None:
            samples.append(gauge("device_cpu_usage_ratio", whole, USAGE_HELP))
        return samples


def _modes(times: Any) -> dict[str, float]:
    return {mode: getattr(times, mode, 0.0) for mode in MODES}


def _summed(per_core: list[Any]) -> dict[str, float]:
    return {mode: sum(getattr(times, mode, 0.0) for times in per_core) for mode in MODES}
