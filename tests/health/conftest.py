"""``reporter``: the real ``health-reporter`` console script (one process) on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.health.helpers import free_port, http_ok, stop_process, wait_until

CONSOLE_SCRIPT = Path(sys.executable).parent / "health-reporter"
# Fake /proc and /sys trees are data, not tests (and their sysfs links loop, as on a real machine).
collect_ignore = ["fixtures"]


@dataclass
class Reporter:
    url: str
    port: int
    process: subprocess.Popen


def start_reporter(extra_env: dict[str, str], log_path: Path) -> Reporter:
    port = free_port()
    env = {
        **os.environ,
        "HEALTH_LISTEN": f"127.0.0.1:{port}",
        "HEALTH_FAST_INTERVAL": "1",
        "HEALTH_SLOW_INTERVAL": "2",
        "HEALTH_TELEMETRY": "0",
        # the sidecars are not running: point their probes at ports nobody listens on
        "HEALTH_WIFI_CONNECT_URL": f"http://127.0.0.1:{free_port()}",
        "HEALTH_LOG_AGENT_URL": f"http://127.0.0.1:{free_port()}",
        **extra_env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(CONSOLE_SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT)
    reporter = Reporter(f"http://127.0.0.1:{port}", port, process)
    try:
        ready = lambda: http_ok(reporter.url + "/readyz") or process.poll() is not None  # noqa: E731
        wait_until(ready, 30, "reporter ready")
    except AssertionError:
        stop_process(process)
        raise
    if process.poll() is not None:
        raise AssertionError(f"health-reporter exited {process.returncode}: {log_path.read_text()[-2000:]}")
    return reporter


@pytest.fixture
def reporter(tmp_path: Path) -> Iterator[Reporter]:
    running = start_reporter({}, tmp_path / "reporter.log")
    try:
        yield running
    finally:
        stop_process(running.process)
