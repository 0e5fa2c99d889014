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
from ..models import Sample, untyped
from ..paths import Paths
from .common import BaseCollector, OptionError

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
        try:
            re.compile(self.fields)
        except (re.error, TypeError) as err:
            raise OptionError("fields", f"not a regular expression: {err}") from err


def parse_header_pairs(text: str, source: str) -> dict[str, str]:
    """'TcpExt: A B' followed by 'TcpExt: 1 2' -> {'TcpExt_A': '1', 'TcpExt_B': '2'}."""
    values = {}
    lines = text.splitlines()
    for header, numbers in zip(lines[::2], lines[1::2], strict=False):
        names, counts = header.split(), numbers.split()
        if len(names) != len(counts) or names[0] != counts[0]:
            raise CollectorError(f"{source}: mismatched lines {header[:30]!r} / {numbers[:30]!r}")
        protocol = names[0].rstrip(":")
        values.update(
            {f"{protocol}_{name}": count for name, count in zip(names[1:], counts[1:], strict=True)}
        )
    return values


def parse_snmp6(text: str) -> dict[str, str]:
    """'Ip6InReceives 123' lines -> {'Ip6_InReceives': '123'}."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        match = SNMP6_PROTOCOL.match(parts[0]) if len(parts) == 2 else None
        if match:
            values[f"{match[1]}_{match[2]}"] = parts[1]
    return values


class NetstatCollector(BaseCollector):
    name = "netstat"
    Options = NetstatOptions

    def __init__(self, paths: Paths, options: Any = None) -> None:
        super().__init__(paths, options)
        self._pattern = re.compile(self.options.fields)
        self._wanted: dict[str, bool] = {}  # the field names never change: match each once

    def _is_wanted(self, key: str) -> bool:
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = bool(self._pattern.match(key))
        return wanted

    def collect(self) -> list[Sample]:
        values: dict[str, str] = {}
        for name in ("netstat", "snmp"):
            text = self._read(name)
            if text is not None:
                values.update(parse_header_pairs(text, str(self.paths.in_proc("net", name))))
        snmp6 = self._read("snmp6")
        if snmp6 is not None:
            values.update(parse_snmp6(snmp6))
        samples = []
        for key, text in values.items():
            if self._is_wanted(key):
                try:
                    number = float(text)
                except ValueError as err:
                    raise CollectorError(f"netstat: {key}={text[:20]!r} is not a number") from err
                protocol, _, field = key.partition("_")
                samples.append(untyped(f"node_netstat_{key}", number, f"Statistic {protocol}{field}."))
        return samples

    def _read(self, name: str) -> str | None:
        path = self.paths.in_proc("net", name)
        try:
            return path.read_text()
        except OSError as err:
            if err.errno == errno.ENOENT:
                return None  # snmp6 without IPv6
            raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err
