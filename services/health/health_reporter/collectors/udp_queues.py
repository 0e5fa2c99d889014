"""Bytes queued on UDP sockets from <proc>/net/udp and udp6 (node_exporter's udp_queues collector).

The files list one line per socket: the cost grows with the number of UDP sockets (a device has few).
"""

from __future__ import annotations

import errno

from ..errors import CollectorError
from ..models import Sample, gauge
from .base import Cadence
from .common import BaseCollector, read_file

HELP = "Number of allocated memory in the kernel for UDP datagrams in bytes."


def sum_queues(text: str, source: str) -> tuple[int, int]:
    """(tx, rx) summed over sockets: the 'tx_queue:rx_queue' hex column (the fifth)."""
    tx = rx = 0
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        try:
            queued_tx, _, queued_rx = fields[4].partition(":")
            tx, rx = tx + int(queued_tx, 16), rx + int(queued_rx, 16)
        except ValueError as err:
            raise CollectorError(f"{source}: bad queue column {fields[4]!r}") from err
    return tx, rx


class UdpQueuesCollector(BaseCollector):
    name = "udp_queues"
    # Slow tier: queue depths are a current state dashboards plot at minute resolution.
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        samples = []
        for name, ip in (("udp", "v4"), ("udp6", "v6")):
            path = self.paths.in_proc("net", name)
            try:
                text = read_file(path)
            except OSError as err:
                if err.errno == errno.ENOENT:
                    continue
                raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err
            tx, rx = sum_queues(text, str(path))
            samples += [
                gauge("node_udp_queues", tx, HELP, queue="tx", ip=ip),
                gauge("node_udp_queues", rx, HELP, queue="rx", ip=ip),
            ]
        return samples
