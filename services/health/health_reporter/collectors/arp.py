"""ARP entries per device from <proc>/net/arp (node_exporter's arp collector with
--no-collector.arp.netlink; per network namespace)."""

from __future__ import annotations

from collections import Counter

from ..models import Sample, gauge
from .base import Cadence
from .common import BaseCollector, read_text

HELP = "ARP entries by device"


def count_arp_entries(text: str) -> Counter[str]:
    """Device is the last column; the first line is the header."""
    return Counter(line.split()[-1] for line in text.splitlines()[1:] if line.strip())


class ArpCollector(BaseCollector):
    name = "arp"
    # Slow tier: neighbour table size changes at human pace.
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        counts = count_arp_entries(read_text(self.paths.in_proc("net", "arp")))
        return [
            gauge("node_arp_entries", count, HELP, device=device) for device, count in sorted(counts.items())
        ]
