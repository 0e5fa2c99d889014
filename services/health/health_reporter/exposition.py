"""The published snapshot in the Prometheus text format 0.0.4, or OpenMetrics 1.0 when the scraper asks.

Rendered here rather than by prometheus-client: the library costs 10 MiB of PSS once imported (its
registry, exposition servers and their imports), the reporter's whole budget is 25 MiB, and what it needs
is a few lines of escaping. The output is checked by ``promtool check metrics`` and by prometheus-client's
strict parsers in the tests. The reporter's own ``process_*`` metrics (prometheus-client's
ProcessCollector names) come from this process's /proc/self, not from HOST_PROC.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .models import Kind, Sample
from .snapshot import Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# OpenMetrics names counter and info families without their sample suffix.
_FAMILY_SUFFIX = {Kind.COUNTER: "_total", Kind.INFO: "_info"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = resource.getpagesize()


@dataclass(frozen=True, slots=True)
class Registry:
    """What /metrics renders: the sampler's latest snapshot, plus this process's own metrics."""

    snapshot: Callable[[], Snapshot]
    process_metrics: bool = True
    extra: Callable[[], list[Sample]] = list  # e.g. the HTTP server's counters

    def samples(self) -> Iterator[Sample]:
        now = time.time()
        for sample in self.snapshot().samples:
            # node_exporter's time collector reads the clock at scrape time: `time() - node_time_seconds`
            # is the device's clock skew, not the age of the last sample.
            yield dataclasses.replace(sample, value=now) if sample.name == "node_time_seconds" else sample
        yield from self.extra()
        if self.process_metrics:
            yield from process_samples()


def build_registry(
    snapshot: Callable[[], Snapshot], process_metrics: bool = True, extra: Callable[[], list[Sample]] = list
) -> Registry:
    return Registry(snapshot, process_metrics, extra)


def render(registry: Registry, accept: str | None) -> tuple[bytes, str]:
    """(body, Content-Type) for the scraper's Accept header."""
    openmetrics = "application/openmetrics-text" in (accept or "")
    lines = _lines(registry.samples(), openmetrics)
    if openmetrics:
        lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode(), OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE


def _lines(samples: Iterable[Sample], openmetrics: bool) -> list[str]:
    """Samples grouped by family in order of first appearance; a duplicate series would make the whole
    scrape invalid, so the first one wins."""
    families: dict[str, list[Sample]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for sample in samples:
        if sample.kind == Kind.NOTE:
            continue
        key = (sample.name, tuple(sorted(sample.labels)))
        if key not in seen:
            seen.add(key)
            families.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    for name, members in families.items():
        first = members[0]
        kind = first.kind
        suffix = _FAMILY_SUFFIX.get(kind, "")
        family = name.removesuffix(suffix) if openmetrics and suffix else name
        if not openmetrics and kind == Kind.INFO:
            kind = Kind.GAUGE  # the text format has no info type
        help_text = first.help or f"Device metric {name}."
        lines.append(f"# HELP {family} {_escape_help(help_text)}")
        type_name = "unknown" if openmetrics and kind == Kind.UNTYPED else kind  # OpenMetrics' word for it
        lines.append(f"# TYPE {family} {type_name}")
        lines.extend(f"{name}{_labels(s.labels)} {_number(s.value)}" for s in members)
    return lines


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels) + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def process_samples() -> list[Sample]:
    """prometheus-client's ProcessCollector series, from /proc/self (empty where there is no /proc)."""
    try:
        with open("/proc/self/stat", "rb") as stat_file:
            fields = stat_file.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith(b"btime "))
        open_fds = len(os.listdir("/proc/self/fd"))
    except (OSError, StopIteration, IndexError, ValueError):
        return []
    # fields[0] is the state (field 3 of stat(5)): utime is field 14, so fields[11].
    utime, stime = int(fields[11]), int(fields[12])
    start_ticks, vsize, rss_pages = int(fields[19]), int(fields[20]), int(fields[21])
    max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # node_exporter exports the soft RLIMIT_AS; unlimited (-1) as the unsigned value it is in the kernel.
    address_space = resource.getrlimit(resource.RLIMIT_AS)[0]
    max_address_space = float(address_space if address_space >= 0 else 2**64 - 1)
    return [
        Sample("process_cpu_seconds_total", (utime + stime) / _CLOCK_TICKS, Kind.COUNTER,
               "Total user and system CPU time spent in seconds."),
        Sample("process_virtual_memory_bytes", float(vsize), Kind.GAUGE, "Virtual memory size in bytes."),
        Sample("process_resident_memory_bytes", float(rss_pages * _PAGE_SIZE), Kind.GAUGE,
               "Resident memory size in bytes."),
        Sample("process_start_time_seconds", boot + start_ticks / _CLOCK_TICKS, Kind.GAUGE,
               "Start time of the process since unix epoch in seconds."),
        Sample("process_open_fds", float(open_fds), Kind.GAUGE, "Number of open file descriptors."),
        Sample("process_max_fds", float(max_fds), Kind.GAUGE, "Maximum number of open file descriptors."),
        Sample("process_virtual_memory_max_bytes", max_address_space, Kind.GAUGE,
               "Maximum amount of virtual memory available in bytes."),
    ]  # fmt: skip
