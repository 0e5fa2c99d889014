"""The reporter (one process, in-process HTTP server), scraped by a real Prometheus server that then
answers queries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.health.conftest import CONSOLE_SCRIPT, Reporter, start_reporter
from tests.health.helpers import free_port, http_ok, stop_process, wait_until

pytestmark = pytest.mark.slow


def query(prometheus: str, expression: str) -> list[dict]:
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_reporter_and_answers_a_query(reporter: Reporter, tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: health\n    static_configs: [{{targets: ['127.0.0.1:{reporter.port}']}}]\n"
    )
    port = free_port()
    prometheus_url = f"http://127.0.0.1:{port}"
    command = [
        "prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
    ]  # fmt: skip
    with (tmp_path / "prometheus.log").open("wb") as log:
        prometheus = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: http_ok(f"{prometheus_url}/-/ready"), 30, "prometheus ready")
        wait_until(lambda: bool(query(prometheus_url, 'node_load1{job="health"}')), 30, "node_load1 scraped")
        up = query(prometheus_url, 'up{job="health"}')
        assert up[0]["value"][1] == "1"
        flags = query(prometheus_url, "device_check_measured")
        measured = {series["metric"]["check"]: series["value"][1] for series in flags}
        assert len(measured) == 10 and measured["disk"] == measured["memory"] == "1"
        statuses = {s["metric"]["check"] for s in query(prometheus_url, "device_check_status")}
        assert statuses == {check for check, flag in measured.items() if flag == "1"}  # unknown: no status
        cpu = query(prometheus_url, 'sum by (mode) (node_cpu_seconds_total{job="health"})')
        assert {series["metric"]["mode"] for series in cpu} >= {"user", "system", "idle"}
    finally:
        stop_process(prometheus)


def test_every_endpoint_is_served_while_the_log_agent_is_unreachable(tmp_path: Path) -> None:
    unreachable = {"HEALTH_TELEMETRY": "on", "HEALTH_FLUENT_PORT": str(free_port())}
    reporter = start_reporter(unreachable, tmp_path / "reporter.log")
    try:
        check_endpoints(reporter)
        wait_until(lambda: failed_sends(reporter) >= 2, 10, "failed telemetry sends counted")
        assert requests.get(reporter.url + "/readyz", timeout=5).status_code == 200
    finally:
        stop_process(reporter.process)


def failed_sends(reporter: Reporter) -> float:
    text = requests.get(reporter.url + "/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith("device_telemetry_failed_sends_total "))
    return float(line.split()[1])


def check_endpoints(reporter: Reporter) -> None:
    status = requests.get(reporter.url + "/status", timeout=5).json()
    assert status["memory_total"] > 0 and len(status["checks"]) == 10
    assert requests.get(reporter.url + "/healthz", timeout=5).json()["alive"] is True
    page = requests.get(reporter.url + "/", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and "Device health" in page.text
    metrics = requests.get(reporter.url + "/metrics", timeout=5)
    assert metrics.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_docker_healthcheck_probe(reporter: Reporter) -> None:
    # All interfaces (needs a credential, which /healthz does not ask for): the probe goes to 127.0.0.1.
    env = {**os.environ, "HEALTH_LISTEN": f"0.0.0.0:{reporter.port}", "HEALTH_AUTH_TOKEN": "t0ken"}
    assert subprocess.run([str(CONSOLE_SCRIPT), "--healthcheck"], env=env, timeout=30).returncode == 0
    stop_process(reporter.process)
    down = subprocess.run([str(CONSOLE_SCRIPT), "--healthcheck"], env=env, capture_output=True, timeout=30)
    assert down.returncode == 1 and b"unhealthy" in down.stderr
