"""Protocol counters from <proc>/net/netstat, <proc>/net/snmp and <proc>/net/snmp6 as
node_netstat_<Protocol>_<Field> (node_exporter's netstat collector: untyped, its default field set
unless the ``fields`` option gives another regular expression).

These files are per network namespace: the host's need network_mode: host.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

from ..errors import CollectorError
from ..models import Kind, Sample
from ..paths import Paths
from .common import BaseCollector, check_regex, read_file

DEFAULT_FIELDS = (
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)
SNMP6_PROTOCOL = re.compile(r"^(Ip6|Icmp6|Udp6|UdpLite6)(.+)$")


@dataclass(frozen=True)
class NetstatOptions:
    fields: str = DEFAULT_FIELDS

    def __post_init__(self) -> None:
        check_regex(self.fields, "fields")


# One wanted field: (its position on the value line, metric name, help).
Field = tuple[int, str, str]


class NetstatCollector(BaseCollector):
    """The files' layouts never change while the kernel runs, so each header line is matched against
    the ``fields`` expression once and later samples only split the value lines and pick positions."""

    name = "netstat"
    Options = NetstatOptions

    def __init__(self, paths: Paths, options: Any = None) -> None:
        super().__init__(paths, options)
        self._pattern = re.compile(self.options.fields)
        self._layouts: dict[str, tuple[int, list[Field]]] = {}  # header line -> (columns, wanted)
        self._snmp6: dict[str, tuple[str, str] | None] = {}  # 'Ip6InReceives' -> (metric, help)

    def _field(self, protocol: str, field: str) -> tuple[str, str] | None:
        key = f"{protocol}_{field}"
        if not self._pattern.match(key):
            return None
        return f"node_netstat_{key}", f"Statistic {protocol}{field}."

    def _layout(self, header: str) -> tuple[int, list[Field]]:
        layout = self._layouts.get(header)
        if layout is None:
            names = header.split()
            protocol = names[0].rstrip(":")
            wanted = []
            for index, field in enumerate(names[1:], start=1):
                found = self._field(protocol, field)
                if found is not None:
                    wanted.append((index, *found))
            layout = self._layouts[header] = (len(names), wanted)
        return layout

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for name in ("netstat", "snmp"):
            text = self._read(name)
            if text is not None:
                self._header_pairs(text, name, samples)
        snmp6 = self._read("snmp6")
        if snmp6 is not None:
            self._snmp6_lines(snmp6, samples)
        return samples

    def _header_pairs(self, text: str, name: str, samples: list[Sample]) -> None:
        """'TcpExt: A B' followed by 'TcpExt: 1 2': the wanted fields of each pair of lines."""
        lines = text.splitlines()
        for header, numbers in zip(lines[::2], lines[1::2], strict=False):
            columns, wanted = self._layout(header)
            counts = numbers.split()
            if len(counts) != columns or not header.startswith(counts[0]):
                source = self.paths.in_proc("net", name)
                raise CollectorError(f"{source}: mismatched lines {header[:30]!r} / {numbers[:30]!r}")
            for index, metric, help_text in wanted:
                samples.append(Sample(metric, _number(metric, counts[index]), Kind.UNTYPED, help_text))

    def _snmp6_lines(self, text: str, samples: list[Sample]) -> None:
        """'Ip6InReceives 123' lines."""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue
            key, count = parts
            if key not in self._snmp6:
                match = SNMP6_PROTOCOL.match(key)
                self._snmp6[key] = self._field(match[1], match[2]) if match else None
            found = self._snmp6[key]
            if found is not None:
                samples.append(Sample(found[0], _number(found[0], count), Kind.UNTYPED, found[1]))

    def _read(self, name: str) -> str | None:
        path = self.paths.in_proc("net", name)
        try:
            return read_file(path)
        except OSError as err:
            if err.errno == errno.ENOENT:
                return None  # snmp6 without IPv6
            raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err


def _number(metric: str, text: str) -> float:
    try:
        return float(text)
    except ValueError as err:
        raise CollectorError(f"netstat: {metric}={text[:20]!r} is not a number") from err
