"""Per-CPU scheduler time from <proc>/schedstat (node_exporter's schedstat collector). A kernel built
without CONFIG_SCHEDSTATS has no file: no samples."""

from __future__ import annotations

import re

from ..errors import CollectorError
from ..models import Sample, counter
from .common import BaseCollector, read_optional

CPU_LINE = re.compile(r"^cpu(\d+)((?: \d+){9})")
NS = 1e-9


def parse_schedstat(text: str) -> list[tuple[str, float, float, float]]:
    """(cpu, running seconds, waiting seconds, timeslices): the last three of a cpuN line's nine numbers."""
    cpus = []
    for line in text.splitlines():
        match = CPU_LINE.match(line)
        if match:
            numbers = [int(word) for word in match[2].split()]
            cpus.append((match[1], numbers[6] * NS, numbers[7] * NS, float(numbers[8])))
        elif line.startswith("cpu"):
            raise CollectorError(f"schedstat: unexpected line {line[:60]!r}")
    return cpus


class SchedstatCollector(BaseCollector):
    name = "schedstat"

    def collect(self) -> list[Sample]:
        text = read_optional(self.paths.in_proc("schedstat"))
        samples = []
        for cpu, running, waiting, slices in parse_schedstat(text or ""):
            samples += [
                counter(
                    "node_schedstat_running_seconds_total",
                    running,
                    "Number of seconds CPU spent running a process.",
                    cpu=cpu,
                ),
                counter(
                    "node_schedstat_waiting_seconds_total",
                    waiting,
                    "Number of seconds spent by processing waiting for this CPU.",
                    cpu=cpu,
                ),
                counter(
                    "node_schedstat_timeslices_total",
                    slices,
                    "Number of timeslices executed by CPU.",
                    cpu=cpu,
                ),
            ]
        return samples
