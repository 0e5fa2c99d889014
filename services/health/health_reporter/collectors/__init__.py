"""Every collector by name. A factory takes the Paths and that collector's options (a mapping; unknown
keys raise ConfigError naming ``HEALTH_COLLECTOR_OPTIONS.<name>.<key>``).

=========== ======= ============================================= =========================================
collector   cadence reads                                         options (default)
=========== ======= ============================================= =========================================
cpu         fast    <proc>/stat (psutil)                          -
load        fast    <proc>/loadavg                                -
memory      fast    <proc>/meminfo                                -
filesystem  fast    <proc>/1/mounts (else self/mounts), statvfs   data_mounts (/data, /mnt/data, /)
                    under the root
diskio      fast    <proc>/diskstats (psutil)                     -
network     fast    <proc>/net/dev (psutil), <sys>/class/net      -
uptime      slow    <proc>/stat btime (psutil)                    -
clock       fast    adjtimex(2) read-only, else <root>/run/       use_adjtimex (true)
                    systemd/timesync/synchronized
filefd      fast    <proc>/sys/fs/file-nr                         -
stat        fast    <proc>/stat intr, ctxt, processes             -
pressure    fast    <proc>/pressure/{cpu,io,memory,irq}           -
vmstat      fast    <proc>/vmstat                                 fields (node_exporter's default regex)
cpufreq     fast    <sys>/devices/system/cpu/cpu*/cpufreq         -
time        fast    clock, local zone, <sys>/devices/system/      -
                    clocksource/clocksource*
timex       fast    adjtimex(2) read-only                         -
entropy     fast    <proc>/sys/kernel/random                      -
netstat     fast    <proc>/net/{netstat,snmp,snmp6}               fields (node_exporter's default regex)
sockstat    slow    <proc>/net/sockstat{,6}                       -
softnet     fast    <proc>/net/softnet_stat                       -
conntrack   slow    <proc>/sys/net/netfilter/nf_conntrack_*       -
arp         slow    <proc>/net/arp                                -
udp_queues  slow    <proc>/net/udp{,6}                            -
schedstat   fast    <proc>/schedstat                              -
textfile    fast    *.prom files in a directory, each parsed      directory ("" = off), max_file_bytes
                    again only when it changes                    (1 MiB), max_files (100), max_series
                                                                  (10000)
thermal     slow    <sys>/class/hwmon, <sys>/class/thermal        -
                    (zones, cooling devices)
power_supply slow   <sys>/class/power_supply/*                    -
hwmon       slow    <sys>/class/hwmon/* (every sensor)            -
uname       slow    uname(2), <proc>/sys/kernel/domainname        -
os          slow    <root>/etc/os-release, else <root>/usr/lib/   -
                    os-release (parsed again only when changed)
throttling  slow    <sys>/devices/platform/soc*/..firmware/       vcgencmd ("vcgencmd"; "" = never),
                    get_throttled, vcgencmd, rpi_volt hwmon       timeout (2)
processes   slow    <proc>/stat, numeric entries of <proc>        -
wifi        slow    <proc>/net/wireless, <sys>/class/net, iw,     iw ("iw"; "" = never), wifi_connect_url
                    wifi-connect /status (SSID)                   (http://127.0.0.1:8081/status), timeout (1)
sidecars    slow    wifi-connect /status, log agent /metrics      wifi_connect_url, log_agent_url
                                                                  (http://127.0.0.1:24220/metrics), timeout
                                                                  (1), log_*_metric (agent's family names)
containers  slow    engine API GET /containers/json?all=1 on the  socket (DOCKER_HOST unix://, else
                    Unix socket; none = no samples                /var/run/balena.sock, /var/run/docker.sock),
                                                                  timeout (3)
=========== ======= ============================================= =========================================

A missing sensor or file that only some devices have yields no samples; an unreadable one (EACCES,
EISDIR) or a malformed one raises CollectorError and the registry scores the collector 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..paths import Paths
from .arp import ArpCollector
from .base import Cadence, Collector
from .clock import ClockCollector
from .common import OPTIONS_VARIABLE
from .conntrack import ConntrackCollector
from .containers import ContainersCollector
from .cpu import CpuCollector
from .cpufreq import CpuFreqCollector
from .diskio import DiskIoCollector
from .entropy import EntropyCollector
from .filefd import FileFdCollector
from .filesystem import FilesystemCollector
from .hwmon import HwmonCollector
from .load import LoadCollector
from .memory import MemoryCollector
from .netstat import NetstatCollector
from .network import NetworkCollector
from .os_release import OsReleaseCollector
from .power_supply import PowerSupplyCollector
from .pressure import PressureCollector
from .processes import ProcessesCollector
from .schedstat import SchedstatCollector
from .sidecars import SidecarsCollector
from .sockstat import SockstatCollector
from .softnet import SoftnetCollector
from .stat import StatCollector
from .textfile import TextfileCollector
from .thermal import ThermalCollector
from .throttling import ThrottlingCollector
from .time import TimeCollector
from .timex import TimexCollector
from .udp_queues import UdpQueuesCollector
from .uname import UnameCollector
from .uptime import UptimeCollector
from .vmstat import VmstatCollector
from .wifi import WifiCollector

CollectorFactory = Callable[[Paths, Mapping[str, Any] | None], Collector]

REGISTRY: dict[str, CollectorFactory] = {
    cls.name: cls.from_options
    for cls in (
        CpuCollector,
        LoadCollector,
        MemoryCollector,
        FilesystemCollector,
        DiskIoCollector,
        NetworkCollector,
        UptimeCollector,
        ClockCollector,
        FileFdCollector,
        StatCollector,
        PressureCollector,
        VmstatCollector,
        CpuFreqCollector,
        TimeCollector,
        TimexCollector,
        EntropyCollector,
        NetstatCollector,
        SockstatCollector,
        SoftnetCollector,
        ConntrackCollector,
        ArpCollector,
        UdpQueuesCollector,
        SchedstatCollector,
        TextfileCollector,
        ThermalCollector,
        HwmonCollector,
        PowerSupplyCollector,
        UnameCollector,
        OsReleaseCollector,
        ThrottlingCollector,
        ProcessesCollector,
        WifiCollector,
        SidecarsCollector,
        ContainersCollector,
    )
}


def reject_unknown(setting: str, names: Iterable[str], known: Iterable[str]) -> None:
    """A ConfigError naming ``setting`` and each of ``names`` that is not in ``known``."""
    listed = list(known)
    unknown = set(names) - set(listed)
    if unknown:
        raise ConfigError(
            setting, f"unknown collector(s) {', '.join(sorted(unknown))} (known: {', '.join(listed)})"
        )


def build_collectors(
    paths: Paths,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    names: Iterable[str] | None = None,
) -> list[Collector]:
    """One collector per name (default: all), each given ``options[name]``."""
    options = options or {}
    reject_unknown(OPTIONS_VARIABLE, options, REGISTRY)
    reject_unknown("HEALTH_COLLECTORS", names or (), REGISTRY)
    return [REGISTRY[name](paths, options.get(name)) for name in (names or REGISTRY)]


__all__ = ["REGISTRY", "Cadence", "Collector", "CollectorFactory", "build_collectors", "reject_unknown"]
