"""Socket counts from <proc>/net/sockstat and sockstat6 (node_exporter's sockstat collector)."""

from __future__ import annotations

import errno
import resource

from ..errors import CollectorError
from ..models import Sample, gauge
from .base import Cadence
from .common import BaseCollector, read_file

PAGE_SIZE = resource.getpagesize()
FIELDS = ("inuse", "orphan", "tw", "alloc", "mem", "memory")


def parse_sockstat(text: str, source: str) -> tuple[float | None, dict[str, dict[str, float]]]:
    """(sockets used, {protocol: {field: value}}) from 'TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1'."""
    used = None
    protocols: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        protocol, _, rest = line.partition(":")
        words = rest.split()
        try:
            pairs = {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}
        except ValueError as err:
            raise CollectorError(f"{source}: bad line {line[:50]!r}") from err
        if protocol == "sockets":
            used = pairs.get("used")
        else:
            protocols[protocol] = pairs
    return used, protocols


class SockstatCollector(BaseCollector):
    """Per network namespace, like every /proc/net file."""

    name = "sockstat"
    # Slow tier: socket counts in use are a current state dashboards plot at minute resolution.
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        samples = []
        for name, ipv6 in (("sockstat", False), ("sockstat6", True)):
            path = self.paths.in_proc("net", name)
            try:
                text = read_file(path)
            except OSError as err:
                if err.errno == errno.ENOENT:
                    continue  # IPv4 or IPv6 disabled
                raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err
            used, protocols = parse_sockstat(text, str(path))
            if used is not None and not ipv6:
                samples.append(gauge("node_sockstat_sockets_used", used, "Number of IPv4 sockets in use."))
            for protocol, values in protocols.items():
                if "mem" in values:
                    values = {**values, "mem_bytes": values["mem"] * PAGE_SIZE}
                samples += [
                    gauge(
                        f"node_sockstat_{protocol}_{field}",
                        values[field],
                        f"Number of {protocol} sockets in state {field}.",
                    )
                    for field in (*FIELDS, "mem_bytes")
                    if field in values
                ]
        return samples
