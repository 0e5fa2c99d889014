"""Hand-made samples with the contract's metric names, for tests of policy (checks, telemetry buckets,
autoheal, status, dashboard) that must not depend on this machine's sensors."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from wsgiref.util import setup_testing_defaults

import requests
from health_reporter.collectors.base import Cadence
from health_reporter.models import Kind, Sample
from health_reporter.snapshot import Snapshot

GIB = 1024**3
DATA_FS = {"device": "/dev/mmcblk0p4", "mountpoint": "/data", "fstype": "ext4"}


def gauge(name: str, value: float, /, **labels: str) -> Sample:
    return Sample(name, float(value), Kind.GAUGE, f"Test {name}.", tuple(labels.items()))


def info(name: str, /, **labels: str) -> Sample:
    return Sample(name, 1.0, Kind.INFO, f"Test {name}.", tuple(labels.items()))


def device_samples(
    cpu: float = 0.25,
    mem_used_ratio: float = 0.40,
    disk_used_ratio: float = 0.50,
    temp: float = 55.0,
    wifi_dbm: float | None = -60.0,
    undervoltage_now: bool = False,
    undervoltage_since_boot: bool = False,
    throttled_now: bool = False,
    clock_synced: bool = True,
    sidecars_up: tuple[bool, bool] = (True, True),
    log_backlog: float | None = 12,
    log_backlog_bytes: float | None = None,
    log_age: float = 5.0,
    unhealthy: tuple[str, ...] = (),
    healthy: tuple[str, ...] = ("app",),
) -> list[Sample]:
    """A Raspberry Pi-like device: 4 GiB RAM, a 32 GiB /data partition, wlan0, both sidecars."""
    mem_total, disk_size = 4 * GIB, 32 * GIB
    samples = [
        gauge("device_cpu_usage_ratio", cpu),
        gauge("node_load1", 0.5), gauge("node_load5", 0.4), gauge("node_load15", 0.3),
        gauge("node_memory_MemTotal_bytes", mem_total),
        gauge("node_memory_MemAvailable_bytes", mem_total * (1 - mem_used_ratio)),
        info("device_data_filesystem_info", device="/dev/mmcblk0p4", mountpoint="/data"),
        gauge("node_filesystem_size_bytes", disk_size, **DATA_FS),
        gauge("node_filesystem_free_bytes", disk_size * (1 - disk_used_ratio), **DATA_FS),
        gauge("node_filesystem_avail_bytes", disk_size * (1 - disk_used_ratio), **DATA_FS),
        gauge("device_cpu_temperature_celsius", temp),
        gauge("device_throttled_raw", 0x50005 if undervoltage_now else 0),
        gauge("device_throttled", float(undervoltage_now), condition="under_voltage", period="now"),
        gauge("device_throttled", float(undervoltage_now or undervoltage_since_boot),
              condition="under_voltage", period="since_boot"),
        gauge("device_throttled", float(throttled_now), condition="throttled", period="now"),
        gauge("device_throttled", float(throttled_now), condition="throttled", period="since_boot"),
        gauge("device_undervolted", float(undervoltage_now or undervoltage_since_boot)),
        gauge("device_clock_synchronized", float(clock_synced)),
        gauge("node_boot_time_seconds", 1_700_000_000), gauge("node_time_seconds", 1_700_003_700),
        gauge("device_sidecar_up", float(sidecars_up[0]), sidecar="wifi-connect"),
        gauge("device_sidecar_up", float(sidecars_up[1]), sidecar="log-agent"),
        info("device_wifi_connect_state_info", state="connected"),
        gauge("device_log_oldest_unsent_age_seconds", log_age),
        Sample("device_log_dropped_records_total", 0.0, Kind.COUNTER, "Test."),
    ]  # fmt: skip
    if log_backlog is not None:
        samples.append(gauge("device_log_backlog_records", log_backlog))
    if log_backlog_bytes is not None:
        samples.append(gauge("device_log_backlog_bytes", log_backlog_bytes))
    if wifi_dbm is not None:
        samples += [
            gauge("device_wifi_signal_dbm", wifi_dbm, interface="wlan0"),
            gauge("device_wifi_link_quality_ratio", 0.7, interface="wlan0"),
            info("device_wifi_info", interface="wlan0", ssid="Workshop"),
        ]
    for name in unhealthy + healthy:
        samples += [
            info("device_container_state_info", name=name, state="running"),
            gauge("device_container_healthy", 0.0 if name in unhealthy else 1.0, name=name),
        ]
    return samples


def snapshot(**values: object) -> Snapshot:
    return Snapshot(time.time(), tuple(device_samples(**values)))  # type: ignore[arg-type]


def snapshot_without(*metrics: str, **values: object) -> Snapshot:
    """A device that does not report those metrics (no sensor, not a Pi, collector off...)."""
    samples = device_samples(**values)  # type: ignore[arg-type]
    return Snapshot(time.time(), tuple(s for s in samples if s.name not in metrics))


class ScriptedSource:
    """A sampler source whose fast samples the test changes between ticks (slow ones stay empty)."""

    def __init__(self, **values: object) -> None:
        self.values = values

    def __call__(self, cadence: Cadence) -> list[Sample]:
        return device_samples(**self.values) if cadence == Cadence.FAST else []  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class WsgiResponse:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.data = body

    def get_json(self) -> object:
        return json.loads(self.data)

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.data.decode() if as_text else self.data


class WsgiClient:
    """Calls a WSGI app in process (the same environ a server would build), for tests of routes."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def get(self, path: str, headers: dict[str, str] | None = None) -> WsgiResponse:
        environ: dict[str, object] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list = []
        body = b"".join(
            self.app(environ, lambda status, headers, exc=None: started.extend((status, headers)))
        )
        return WsgiResponse(started[0], started[1], body)
