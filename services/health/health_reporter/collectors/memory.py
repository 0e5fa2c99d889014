"""Every /proc/meminfo field as node_memory_<Field>_bytes, node_exporter's naming.

psutil.virtual_memory() only returns a derived subset, so the file is parsed here.
"""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Kind, Sample
from .common import BaseCollector, read_text

_KEYS: dict[tuple[str, bool], str] = {}  # (field, in kB) -> node_exporter key; the field set is fixed


def _key(field: str, kilobytes: bool) -> str:
    key = _KEYS.get((field, kilobytes))
    if key is None:
        name = field.replace("(", "_").replace(")", "")
        key = _KEYS[(field, kilobytes)] = f"{name}_bytes" if kilobytes else name
    return key


def parse_meminfo(text: str) -> dict[str, float]:
    """{'MemTotal_bytes': bytes, 'HugePages_Total': count, ...}: node_exporter's keys, where a kB field
    gains _bytes and 'Active(anon)' becomes 'Active_anon'. Split, not a regular expression per line: this
    runs every fast sample."""
    fields: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.isspace():
            continue
        field, colon, rest = line.partition(":")
        parts = rest.split()
        kilobytes = len(parts) == 2 and parts[1] == "kB"
        well_formed = colon and field.split() == [field] and (len(parts) == 1 or kilobytes)
        if not well_formed or not parts[0].isdigit():
            raise CollectorError(f"meminfo: unexpected line {line[:60]!r}")
        fields[_key(field, kilobytes)] = int(parts[0]) * 1024 if kilobytes else int(parts[0])
    return fields


class MemoryCollector(BaseCollector):
    name = "memory"

    def collect(self) -> list[Sample]:
        fields = parse_meminfo(read_text(self.paths.in_proc("meminfo")))
        if "MemTotal_bytes" not in fields:
            raise CollectorError(f"{self.paths.in_proc('meminfo')}: no MemTotal line")
        return [Sample(*_metric(key, float(value))) for key, value in fields.items()]


_METRICS: dict[str, tuple[str, str]] = {}  # key -> (metric, help), built once per field


def _metric(key: str, value: float) -> tuple[str, float, Kind, str]:
    metric = _METRICS.get(key)
    if metric is None:
        metric = _METRICS[key] = (f"node_memory_{key}", f"Memory information field {key}.")
    return metric[0], value, Kind.GAUGE, metric[1]
