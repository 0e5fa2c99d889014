"""Sidecar and WiFi-SSID probes against real HTTP servers on loopback (port 0): a log-agent-like
/metrics rendered by prometheus_client and a wifi-connect-like /status."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from health_collector_testing import by_name, value
from health_reporter.collectors.sidecars import SidecarsCollector, SidecarsOptions, log_agent_samples
from health_reporter.collectors.wifi import WifiCollector, WifiOptions
from health_reporter.errors import ConfigError
from health_reporter.exposition import build_registry, render
from health_reporter.snapshot import Snapshot, summary
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


def log_agent_metrics(with_records: bool = False) -> bytes:
    """An agent's /metrics; ``with_records`` adds the record count newer agents export beside the bytes."""
    registry = CollectorRegistry()
    backlog = Gauge("log_agent_backlog_bytes", "Spooled, not delivered", ["output"], registry=registry)
    dropped = Counter("log_agent_records_dropped", "Dropped", ["output", "reason"], registry=registry)
    oldest = Gauge("log_agent_oldest_unsent_age_seconds", "Oldest unsent", ["output"], registry=registry)
    backlog.labels("cloud").set(250)
    backlog.labels("archive").set(4)
    dropped.labels("cloud", "spool_full").inc(9)
    dropped.labels("archive", "rejected").inc(1)
    oldest.labels("cloud").set(73.5)
    oldest.labels("archive").set(2)
    if with_records:
        records = Gauge("log_agent_backlog_records", "Spooled records", ["output"], registry=registry)
        records.labels("cloud").set(30)
        records.labels("archive").set(1)
    return generate_latest(registry)


class Routes(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}

    def do_GET(self) -> None:
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def sidecar_server() -> Iterator[tuple[str, dict]]:
    routes = {
        "/metrics": (200, "text/plain; version=0.0.4", log_agent_metrics()),
        "/status": (
            200,
            "application/json",
            json.dumps(
                {"state": "connected", "interface": "wlan0", "ssid": "Cafe Guest", "online": True}
            ).encode(),
        ),
    }
    handler = type("Handler", (Routes,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def sidecars(base: str, **overrides) -> SidecarsCollector:
    options = {"wifi_connect_url": f"{base}/status", "log_agent_url": f"{base}/metrics", "timeout": 2.0}
    return SidecarsCollector(None, SidecarsOptions(**{**options, **overrides}))


def test_both_sidecars_up(sidecar_server):
    base, _ = sidecar_server
    samples = sidecars(base).collect()
    assert by_name(samples, "device_sidecar_up") == {
        (("sidecar", "wifi-connect"),): 1,
        (("sidecar", "log-agent"),): 1,
    }
    assert by_name(samples, "device_wifi_connect_state_info") == {(("state", "connected"),): 1}
    assert value(samples, "device_log_backlog_bytes") == 254
    assert not by_name(samples, "device_log_backlog_records")  # the agent exports its backlog in bytes
    assert value(samples, "device_log_dropped_records_total") == 10
    assert value(samples, "device_log_oldest_unsent_age_seconds") == 73.5


def test_an_agent_that_counts_its_backlog_in_records(sidecar_server):
    base, routes = sidecar_server
    routes["/metrics"] = (200, "text/plain; version=0.0.4", log_agent_metrics(with_records=True))
    samples = sidecars(base).collect()
    assert value(samples, "device_log_backlog_records") == 31
    assert value(samples, "device_log_backlog_bytes") == 254
    assert value(samples, "device_log_oldest_unsent_age_seconds") == 73.5


def test_the_log_agents_own_metrics_text():
    """The names the agent really exports (log_agent.metrics), rendered by its own registry."""
    metrics_module = pytest.importorskip("log_agent.metrics")
    metrics = metrics_module.Metrics()
    metrics.backlog_bytes.labels("cloud").set(4096)
    metrics.records_dropped.labels("cloud").inc(5)
    metrics.oldest_unsent_age.labels("cloud").set(12.5)
    expected = {
        "device_log_backlog_bytes": 4096,
        "device_log_dropped_records_total": 5,
        "device_log_oldest_unsent_age_seconds": 12.5,
    }
    if hasattr(metrics, "backlog_records"):  # newer agents also count records
        metrics.backlog_records.labels("cloud").set(7)
        expected["device_log_backlog_records"] = 7
    samples = log_agent_samples(generate_latest(metrics.registry).decode(), SidecarsOptions())
    assert {s.name: s.value for s in samples} == expected


def test_sidecar_down_or_broken_is_reported_not_raised(sidecar_server):
    base, routes = sidecar_server
    routes["/status"] = (200, "application/json", b'{"no": "state"}')
    routes["/metrics"] = (500, "text/plain", b"boom")
    samples = sidecars(base).collect()
    assert by_name(samples, "device_sidecar_up") == {
        (("sidecar", "wifi-connect"),): 0,
        (("sidecar", "log-agent"),): 0,
    }
    down = sidecars(closed_port_url()).collect()
    assert [s.value for s in down if s.name == "device_sidecar_up"] == [0, 0]


def test_the_reason_a_sidecar_is_down_is_kept_logged_on_change_and_shown_in_status(sidecar_server, caplog):
    base, routes = sidecar_server
    collector = sidecars(base, wifi_connect_url="")
    routes["/metrics"] = (500, "text/plain", b"boom")
    with caplog.at_level(logging.DEBUG, logger="health_reporter.collectors.sidecars"):
        first = collector.collect()
        collector.collect()  # same reason: no second warning
        routes["/metrics"] = (503, "text/plain", b"starting")
        changed = collector.collect()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "Internal Server Error" in warnings[0] and "Unavailable" in warnings[1]
    assert collector.last_errors == {"log-agent": f"GET {base}/metrics: Service Unavailable"}
    status = summary(Snapshot(0.0, tuple(changed)))["sidecars"]["log-agent"]
    assert status["up"] is False and status["error"] == f"GET {base}/metrics: Service Unavailable"
    assert summary(Snapshot(0.0, tuple(first)))["sidecars"]["log-agent"]["error"].endswith("Server Error")
    routes["/metrics"] = (200, "text/plain; version=0.0.4", log_agent_metrics())
    with caplog.at_level(logging.INFO, logger="health_reporter.collectors.sidecars"):
        recovered = collector.collect()
    assert "log-agent answers again" in caplog.text and collector.last_errors == {}
    assert summary(Snapshot(0.0, tuple(recovered)))["sidecars"]["log-agent"]["up"] is True
    assert summary(Snapshot(0.0, tuple(recovered)))["sidecars"]["log-agent"]["error"] is None


def test_disabled_probes_and_bad_options():
    assert sidecars("", wifi_connect_url="", log_agent_url="").collect() == []
    with pytest.raises(ConfigError, match="log_agent_url"):
        SidecarsCollector.from_options(None, {"log_agent_url": "ftp://x"})
    with pytest.raises(ConfigError, match=r"HEALTH_COLLECTOR_OPTIONS\.sidecars\.url"):
        SidecarsCollector.from_options(None, {"url": "http://x"})


def test_wifi_ssid_from_wifi_connect(sidecar_server, pi_paths):
    base, routes = sidecar_server
    collector = WifiCollector(pi_paths, WifiOptions(iw="", wifi_connect_url=f"{base}/status", timeout=2.0))
    samples = collector.collect()
    assert by_name(samples, "device_wifi_info") == {(("interface", "wlan0"), ("ssid", "Cafe Guest")): 1}
    routes["/status"] = (
        200,
        "application/json",
        json.dumps({"state": "portal", "interface": "wlan1"}).encode(),
    )
    assert not by_name(collector.collect(), "device_wifi_info")  # another interface: not our SSID


def test_the_metric_carries_a_bounded_reason_and_the_text_stays_in_status(sidecar_server):
    """A label value per distinct error text would be an unbounded number of series."""
    base, routes = sidecar_server
    routes["/metrics"] = (503, "text/plain", b"starting")
    routes["/status"] = (200, "application/json", b"<html>not json</html>")
    samples = sidecars(base).collect()
    reasons = by_name(samples, "device_sidecar_error_info")
    assert reasons == {
        (("reason", "bad_response"), ("sidecar", "wifi-connect")): 1,
        (("reason", "http_5xx"), ("sidecar", "log-agent")): 1,
    }
    refused = sidecars(closed_port_url(), wifi_connect_url="").collect()
    assert by_name(refused, "device_sidecar_error_info") == {
        (("reason", "refused"), ("sidecar", "log-agent")): 1
    }
    text, _ = render(build_registry(lambda: Snapshot(0.0, tuple(samples)), process_metrics=False), None)
    assert "Service Unavailable" not in text.decode() and "not JSON" not in text.decode()
    status = summary(Snapshot(0.0, tuple(samples)))["sidecars"]
    assert (
        status["log-agent"]["reason"] == "http_5xx" and "Service Unavailable" in status["log-agent"]["error"]
    )
    assert (
        status["wifi-connect"]["reason"] == "bad_response" and "not JSON" in status["wifi-connect"]["error"]
    )
