"""/metrics content: promtool on the real collectors' output, OpenMetrics negotiation, family rendering."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from health_reporter.config import Config
from health_reporter.exposition import build_registry, render
from health_reporter.models import Kind, Sample
from health_reporter.sampler import sampler_from_config
from health_reporter.snapshot import Snapshot
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
EXPECTED_NAMES = (
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_load1",
    "node_filesystem_avail_bytes",
    "device_check_status",
    "process_cpu_seconds_total",
)
PI_TREE = Path(__file__).resolve().parent / "fixtures" / "pi"


def scrape(env: dict[str, str], accept: str | None = None) -> tuple[str, str]:
    sampler = sampler_from_config(Config.from_env({"HEALTH_TELEMETRY": "0", **env}))
    sampler.run_once()
    body, content_type = render(build_registry(lambda: sampler.snapshot), accept)
    return body.decode(), content_type


def promtool_problems(text: str) -> list[str]:
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip()]


# node_exporter's own names that promtool's linter dislikes (it says the same of node_exporter's output):
# camelCase kernel field names and the entropy collector's "bits".
NODE_EXPORTER_NAMING = ("node_memory_", "node_netstat_", "node_sockstat_", "node_entropy_")


def only_node_exporters_naming_warnings(problems: list[str]) -> bool:
    return all(p.startswith(NODE_EXPORTER_NAMING) for p in problems)


def test_promtool_finds_nothing_but_node_exporters_camel_case_on_this_machine() -> None:
    text, content_type = scrape({})
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    for name in EXPECTED_NAMES:
        assert f"\n{name}" in text, name
    problems = promtool_problems(text)
    assert only_node_exporters_naming_warnings(problems), problems


def test_promtool_on_a_raspberry_pi_tree() -> None:
    tree = {f"HOST_{part.upper()}": str(PI_TREE / part) for part in ("proc", "sys", "root")}
    text, _ = scrape({**tree, "HEALTH_COLLECTORS_DISABLED": "sidecars,containers"})
    assert "device_throttled{" in text and "device_cpu_temperature_celsius" in text
    problems = promtool_problems(text)
    assert only_node_exporters_naming_warnings(problems), problems


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    text, content_type = scrape({}, PROMETHEUS_ACCEPT)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in parse_openmetrics(text)}  # the strict OpenMetrics parser
    assert families["node_cpu_seconds"].type == "counter"
    assert families["device_check_status"].type == "gauge"


def fixed(*samples: Sample) -> str:
    snap = Snapshot(time.time(), samples)
    body, _ = render(build_registry(lambda: snap, process_metrics=False), None)
    return body.decode()


def test_counters_info_and_duplicates() -> None:
    text = fixed(
        Sample("device_log_dropped_records_total", 3, Kind.COUNTER, "Dropped."),
        Sample("device_wifi_info", 1, Kind.INFO, "WiFi.", (("interface", "wlan0"), ("ssid", 'Café "5G"'))),
        Sample("node_load1", 0.5, Kind.GAUGE, "Load."),
        Sample("node_load1", 0.9, Kind.GAUGE, "Load."),  # a duplicate series: the first one wins
        Sample("device_undocumented", 1),
    )
    families = {family.name: family for family in parse_text(text)}
    assert families["device_log_dropped_records"].type == "counter"
    assert "# TYPE device_wifi_info gauge" in text
    assert families["device_wifi_info"].samples[0].labels == {"interface": "wlan0", "ssid": 'Café "5G"'}
    assert [s.value for s in families["node_load1"].samples] == [0.5]
    assert "# HELP device_undocumented Device metric device_undocumented." in text
    assert promtool_problems(text) == []


@pytest.mark.parametrize("accept", [None, "", "text/html", "text/plain"])
def test_plain_text_0_0_4_by_default(accept: str | None) -> None:
    _, content_type = render(build_registry(lambda: Snapshot(0.0, ()), process_metrics=False), accept)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"


def test_node_time_seconds_is_read_at_scrape_time() -> None:
    """As node_exporter's: `time() - node_time_seconds` is the clock's skew, not the sample's age."""
    an_hour_ago = time.time() - 3600
    stale = Snapshot(an_hour_ago, (Sample("node_time_seconds", an_hour_ago, Kind.GAUGE, "Now."),))
    body, _ = render(build_registry(lambda: stale, process_metrics=False), None)
    line = next(line for line in body.decode().splitlines() if line.startswith("node_time_seconds "))
    assert abs(float(line.split()[1]) - time.time()) < 5
