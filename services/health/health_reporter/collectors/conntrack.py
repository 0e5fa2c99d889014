"""Connection tracking table use from <proc>/sys/net/netfilter (node_exporter's conntrack collector;
its per-CPU nf_conntrack_stat_* series need netlink and are not read here). No netfilter module loaded:
no samples."""

from __future__ import annotations

from ..models import Sample, gauge
from .base import Cadence
from .common import BaseCollector, parse_number, read_optional

FILES = {
    "nf_conntrack_count": (
        "node_nf_conntrack_entries",
        "Number of currently allocated flow entries for connection tracking.",
    ),
    "nf_conntrack_max": ("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table."),
}


class ConntrackCollector(BaseCollector):
    name = "conntrack"
    # Slow tier: table fill level, a current state alerted on over minutes.
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        samples = []
        for file, (metric, help_text) in FILES.items():
            path = self.paths.in_proc("sys", "net", "netfilter", file)
            text = read_optional(path)
            if text:
                samples.append(gauge(metric, parse_number(text, path), help_text))
        return samples
