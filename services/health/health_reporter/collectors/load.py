"""Load averages from <proc>/loadavg (host-wide even inside a container)."""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, gauge, read_text

HELP = "{minutes}m load average."


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """'0.21 0.37 0.39 1/719 19737' -> (0.21, 0.37, 0.39)."""
    fields = text.split()
    try:
        return float(fields[0]), float(fields[1]), float(fields[2])
    except (IndexError, ValueError) as err:
        raise CollectorError(f"loadavg: unexpected content {text[:60]!r}") from err


class LoadCollector(BaseCollector):
    name = "load"

    def collect(self) -> list[Sample]:
        loads = parse_loadavg(read_text(self.paths.in_proc("loadavg")))
        return [
            gauge(f"node_load{minutes}", value, HELP.format(minutes=minutes))
            for minutes, value in zip((1, 5, 15), loads, strict=True)
        ]
