"""Per-interface counters from <proc>/net/dev (every field, node_exporter's netdev names) and link
attributes from <sys>/class/net (node_exporter's netclass: up, carrier, MTU, speed).

Both are per network namespace: host interfaces need network_mode: host.
"""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, counter, flag, gauge, parse_number, read_optional, read_text

RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
UP_HELP = "Value is 1 if operstate is 'up', 0 otherwise."
LINK_ATTRIBUTES = {  # file under <sys>/class/net/<device> -> (metric, scale)
    "carrier": ("node_network_carrier", 1),
    "mtu": ("node_network_mtu_bytes", 1),
    "speed": ("node_network_speed_bytes", 1_000_000 / 8),  # Mbit/s
    "statistics/rx_nohandler": ("node_network_receive_nohandler_total", 1),
}


def parse_net_dev(text: str) -> dict[str, dict[str, float]]:
    """{device: {'receive_bytes': n, ..., 'transmit_compressed': n}} from /proc/net/dev."""
    devices = {}
    for line in text.splitlines()[2:]:
        device, _, counts = line.partition(":")
        values = counts.split()
        if len(values) != len(RECEIVE) + len(TRANSMIT):
            raise CollectorError(f"net/dev: unexpected line {line[:60]!r}")
        try:
            numbers = [float(value) for value in values]
        except ValueError as err:
            raise CollectorError(f"net/dev: unexpected line {line[:60]!r}") from err
        names = [f"receive_{f}" for f in RECEIVE] + [f"transmit_{f}" for f in TRANSMIT]
        devices[device.strip()] = dict(zip(names, numbers, strict=True))
    return devices


class NetworkCollector(BaseCollector):
    name = "network"

    def collect(self) -> list[Sample]:
        devices = parse_net_dev(read_text(self.paths.in_proc("net", "dev")))
        samples = []
        for device, values in sorted(devices.items()):
            samples += [
                counter(
                    f"node_network_{field}_total", value, f"Network device statistic {field}.", device=device
                )
                for field, value in values.items()
            ]
            samples += self._link(device)
        return samples

    def _link(self, device: str) -> list[Sample]:
        """netclass attributes; a down link answers EINVAL for carrier and speed: those are left out."""
        directory = self.paths.in_sys("class", "net", device)
        samples = []
        operstate = read_optional(directory / "operstate")
        if operstate is not None:
            samples.append(gauge("node_network_up", flag(operstate == "up"), UP_HELP, device=device))
        for file, (metric, scale) in LINK_ATTRIBUTES.items():
            text = read_optional(directory / file)
            if not text:
                continue
            # speed -1 (unknown) is exported as -125000, as node_exporter does by default
            value = parse_number(text, directory / file) * scale
            if metric.endswith("_total"):
                samples.append(
                    counter(metric, value, "Network device statistic receive_nohandler.", device=device)
                )
            else:
                help_text = f"Network device property: {metric.removeprefix('node_network_')}"
                samples.append(gauge(metric, value, help_text, device=device))
        return samples
