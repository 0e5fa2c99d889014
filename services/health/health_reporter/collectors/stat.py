"""Interrupts, context switches and forks from <proc>/stat (node_exporter's stat collector; its boot
time and procs_* series come from the uptime and processes collectors here)."""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Sample, counter
from .common import BaseCollector, read_text

FIELDS = {  # /proc/stat line -> (metric, help)
    "intr": ("node_intr_total", "Total number of interrupts serviced."),
    "ctxt": ("node_context_switches_total", "Total number of context switches."),
    "processes": ("node_forks_total", "Total number of forks."),
}


def parse_stat_counters(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key in FIELDS:
            try:
                found[key] = float(rest.split()[0])  # intr: the first number is the total
            except (IndexError, ValueError) as err:
                raise CollectorError(f"stat: bad {key} line {line[:40]!r}") from err
    return found


class StatCollector(BaseCollector):
    name = "stat"

    def collect(self) -> list[Sample]:
        values = parse_stat_counters(read_text(self.paths.in_proc("stat")))
        return [counter(FIELDS[key][0], value, FIELDS[key][1]) for key, value in values.items()]
