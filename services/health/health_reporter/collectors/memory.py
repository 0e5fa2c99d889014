"""Every /proc/meminfo field as node_memory_<Field>_bytes, node_exporter's naming.

psutil.virtual_memory() only returns a derived subset, so the file is parsed here.
"""

from __future__ import annotations

import re

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, gauge, read_text

_LINE = re.compile(r"^(?P<field>[^:\s]+):\s+(?P<value>\d+)(?:\s+(?P<unit>kB))?\s*$")


def parse_meminfo(text: str) -> dict[str, float]:
    """{'MemTotal_bytes': bytes, 'HugePages_Total': count, ...}: node_exporter's keys, where a kB field
    gains _bytes and 'Active(anon)' becomes 'Active_anon'."""
    fields: dict[str, float] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise CollectorError(f"meminfo: unexpected line {line[:60]!r}")
        name = match["field"].replace("(", "_").replace(")", "")
        if match["unit"]:
            fields[f"{name}_bytes"] = int(match["value"]) * 1024
        else:
            fields[name] = int(match["value"])
    return fields


class MemoryCollector(BaseCollector):
    name = "memory"

    def collect(self) -> list[Sample]:
        fields = parse_meminfo(read_text(self.paths.in_proc("meminfo")))
        if "MemTotal_bytes" not in fields:
            raise CollectorError(f"{self.paths.in_proc('meminfo')}: no MemTotal line")
        return [
            gauge(f"node_memory_{key}", value, f"Memory information field {key}.")
            for key, value in fields.items()
        ]
