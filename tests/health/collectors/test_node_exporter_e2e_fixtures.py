"""node_exporter's own end-to-end fixtures (fixtures/node_exporter/e2e: its /proc and /sys test trees and
its expected output, see SOURCE.md): each reporter collector that ports a node_exporter collector must
give exactly the series and values node_exporter gives on the same trees (hwmon's many chips and sensor
kinds, cpufreq, thermal zones and cooling devices, PSI, vmstat, netstat, sockstat, softnet, schedstat,
diskstats, ...)."""

from __future__ import annotations

import math
import re

import pytest
from health_collector_testing import FIXTURES
from health_reporter.collectors import REGISTRY
from health_reporter.paths import Paths
from prometheus_client.parser import text_string_to_metric_families

E2E = FIXTURES / "node_exporter" / "e2e"
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]

# collector -> the families it owns in node_exporter's output (all of them must match)
OWNED = {
    "hwmon": r"node_hwmon_",
    "cpufreq": r"node_cpu_(frequency|scaling)_",
    "thermal": r"node_(thermal_zone|cooling_device)_",
    "pressure": r"node_pressure_",
    "vmstat": r"node_vmstat_",
    "netstat": r"node_netstat_",
    "sockstat": r"node_sockstat_",
    "softnet": r"node_softnet_",
    "schedstat": r"node_schedstat_",
    "entropy": r"node_entropy_",
    "stat": r"node_(intr|context_switches|forks)_total",
    "arp": r"node_arp_",
    "udp_queues": r"node_udp_queues",
    "diskio": r"node_disk_(?!info)",
    "time": r"node_time_clocksource_",
    "power_supply": r"node_power_supply_(online|present|capacity|cyclecount|authentic|calibrate|time_to)",
}
# node_exporter's end-to-end-test.sh runs with these filters: apply them to the reporter's side too.
E2E_FILTERS = {
    "hwmon": ("chip", re.compile(r"applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779")),
    "arp": ("device", re.compile(r"^(?!nope$)")),  # --collector.arp.device-exclude=nope
}


def series_of(samples) -> Series:
    return {(name, frozenset((k, v) for k, v in labels if v != "")): value for name, labels, value in samples}


@pytest.fixture(scope="module")
def expected() -> Series:
    families = text_string_to_metric_families((E2E / "e2e-output.txt").read_text())
    return series_of((s.name, s.labels.items(), s.value) for family in families for s in family.samples)


@pytest.mark.parametrize("name", sorted(OWNED))
def test_same_series_as_node_exporter_on_its_fixtures(name: str, expected: Series) -> None:
    paths = Paths(proc=E2E / "proc", sys=E2E / "sys", root=E2E)
    samples = REGISTRY[name](paths, None).collect()
    owned = re.compile(OWNED[name])
    got = series_of((s.name, s.labels, s.value) for s in samples if owned.match(s.name))
    if name in E2E_FILTERS:
        label, keep = E2E_FILTERS[name]
        got = {key: value for key, value in got.items() if keep.search(dict(key[1]).get(label, ""))}
    # node_cpu_frequency_hertz{core,package} is the cpu collector's --collector.cpu.info, not cpufreq
    want = {
        key: value for key, value in expected.items() if owned.match(key[0]) and "package" not in dict(key[1])
    }
    if name == "power_supply":  # the reporter exports the whole-number attributes only
        want = {key: value for key, value in want.items() if key[0] in {k[0] for k in got}}
    assert got, "no series at all"
    assert sorted(got.keys() - want.keys(), key=str) == [], "series node_exporter does not have"
    assert sorted(want.keys() - got.keys(), key=str) == [], "series the reporter misses"
    wrong = {key: (want[key], got[key]) for key in want if not _same(want[key], got[key])}
    assert wrong == {}, "values differ (node_exporter, reporter)"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
