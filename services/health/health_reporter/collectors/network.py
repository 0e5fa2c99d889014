"""Per-interface traffic counters (<proc>/net/dev through psutil) and link state (<sys>/class/net)."""

from __future__ import annotations

import psutil

from ..models import Sample
from .common import BaseCollector, counter, flag, gauge, read_optional

UP_HELP = "1 when the interface's operstate is up."
FIELDS = {  # psutil field -> node_exporter metric
    "bytes_recv": "node_network_receive_bytes_total",
    "packets_recv": "node_network_receive_packets_total",
    "errin": "node_network_receive_errs_total",
    "dropin": "node_network_receive_drop_total",
    "bytes_sent": "node_network_transmit_bytes_total",
    "packets_sent": "node_network_transmit_packets_total",
    "errout": "node_network_transmit_errs_total",
    "dropout": "node_network_transmit_drop_total",
}


class NetworkCollector(BaseCollector):
    """<proc>/net/dev is per network namespace: host interfaces need network_mode: host."""

    name = "network"

    def collect(self) -> list[Sample]:
        nics = self.read_with_psutil("net/dev", lambda: psutil.net_io_counters(pernic=True, nowrap=False))
        samples = []
        for device, io in sorted(nics.items()):
            samples += [
                counter(metric, getattr(io, field), f"Network device statistic {field}.", device=device)
                for field, metric in FIELDS.items()
            ]
            operstate = read_optional(self.paths.in_sys("class", "net", device, "operstate"))
            if operstate is not None:
                samples.append(gauge("node_network_up", flag(operstate == "up"), UP_HELP, device=device))
        return samples
