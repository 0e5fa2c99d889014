"""Process counts without iterating processes (the psutil process list is what made Glances expensive
on a Pi): runnable and blocked from <proc>/stat, the total from the numeric entries of <proc>."""

from __future__ import annotations

import psutil

from ..errors import CollectorError
from ..models import Sample
from .base import Cadence
from .common import BaseCollector, gauge, read_text


def parse_proc_stat_counts(text: str) -> dict[str, int]:
    """procs_running / procs_blocked lines of /proc/stat."""
    counts = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("procs_running", "procs_blocked"):
            counts[key] = int(value)
    if len(counts) != 2:
        raise CollectorError("stat: no procs_running/procs_blocked lines")
    return counts


class ProcessesCollector(BaseCollector):
    """The total counts host processes only with pid: host (the PID namespace); running/blocked are
    host-wide regardless."""

    name = "processes"
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        counts = parse_proc_stat_counts(read_text(self.paths.in_proc("stat")))
        total = len(self.read_with_psutil("", psutil.pids))
        return [
            gauge("node_procs_running", counts["procs_running"], "Number of processes in runnable state."),
            gauge(
                "node_procs_blocked", counts["procs_blocked"], "Number of processes blocked waiting for I/O."
            ),
            gauge("device_processes", total, "Number of processes."),
        ]
