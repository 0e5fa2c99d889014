"""Per-interface counters from <proc>/net/dev (every field, node_exporter's netdev names) and link
attributes from <sys>/class/net (node_exporter's netclass: up, carrier, MTU, speed).

Both are per network namespace: host interfaces need network_mode: host.
"""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Kind, Sample
from .common import BaseCollector, flag, parse_number, read_optional, read_text

RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
FIELDS = tuple(f"receive_{f}" for f in RECEIVE) + tuple(f"transmit_{f}" for f in TRANSMIT)
# field -> (metric, help), built once: 16 counters per interface every sample
COUNTERS = {field: (f"node_network_{field}_total", f"Network device statistic {field}.") for field in FIELDS}
UP_HELP = "Value is 1 if operstate is 'up', 0 otherwise."


def _property(metric: str, scale: float) -> tuple[str, float, Kind, str]:
    return metric, scale, Kind.GAUGE, f"Network device property: {metric.removeprefix('node_network_')}"


LINK_ATTRIBUTES = {  # file under <sys>/class/net/<device> -> (metric, scale, kind, help)
    "carrier": _property("node_network_carrier", 1),
    "mtu": _property("node_network_mtu_bytes", 1),
    "speed": _property("node_network_speed_bytes", 1_000_000 / 8),  # Mbit/s
    "statistics/rx_nohandler": (
        "node_network_receive_nohandler_total",
        1,
        Kind.COUNTER,
        "Network device statistic receive_nohandler.",
    ),
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
        devices[device.strip()] = dict(zip(FIELDS, numbers, strict=True))
    return devices


class NetworkCollector(BaseCollector):
    name = "network"

    def collect(self) -> list[Sample]:
        devices = parse_net_dev(read_text(self.paths.in_proc("net", "dev")))
        samples = []
        for device, values in sorted(devices.items()):
            labels = (("device", device),)
            samples += [
                Sample(COUNTERS[field][0], value, Kind.COUNTER, COUNTERS[field][1], labels)
                for field, value in values.items()
            ]
            samples += self._link(device)
        return samples

    def _link(self, device: str) -> list[Sample]:
        """netclass attributes; a down link answers EINVAL for carrier and speed: those are left out."""
        directory = self.paths.in_sys("class", "net", device)
        labels = (("device", device),)
        samples = []
        operstate = read_optional(f"{directory}/operstate")
        if operstate is not None:
            samples.append(Sample("node_network_up", flag(operstate == "up"), Kind.GAUGE, UP_HELP, labels))
        for file, (metric, scale, kind, help_text) in LINK_ATTRIBUTES.items():
            path = f"{directory}/{file}"
            text = read_optional(path)
            if text:
                # speed -1 (unknown) is exported as -125000, as node_exporter does by default
                samples.append(Sample(metric, parse_number(text, path) * scale, kind, help_text, labels))
        return samples
