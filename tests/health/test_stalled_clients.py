"""Clients that stall mid-request must not take the HTTP app offline (gunicorn runs 4 threads)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import requests

from tests.health.conftest import start_reporter
from tests.health.helpers import stop_process

THREADS = 4  # gunicorn --threads in health_reporter.__main__
TIMEOUT = 2


def test_stalled_clients_are_dropped_and_healthz_still_answers(tmp_path: Path) -> None:
    reporter = start_reporter({"HEALTH_CLIENT_TIMEOUT": str(TIMEOUT)}, tmp_path / "reporter.log")
    stalled: list[socket.socket] = []
    try:
        for _ in range(THREADS + 1):
            sock = socket.create_connection(("127.0.0.1", reporter.port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            stalled.append(sock)
        time.sleep(0.5)  # let the worker threads pick them up
        started = time.monotonic()
        response = requests.get(reporter.url + "/healthz", timeout=TIMEOUT + 4)
        assert response.status_code == 200
        assert time.monotonic() - started < TIMEOUT + 2
    finally:
        for sock in stalled:
            sock.close()
        stop_process(reporter.process)
