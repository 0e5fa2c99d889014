"""Both apps under real gunicorn on a free loopback port, started as the daemon starts them, talking to a
fake daemon through the real RPC socket; requests over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time

import psutil
import pytest
import requests
from wifi_connect.daemon import GunicornServer

from tests.wifi_connect.web.gunicorn_server import (
    CONTROL_APP,
    PORTAL_APP,
    fake_daemon,
    free_port,
    gunicorn,
    portal_env,
    wait_for_port,
)

HOST = "127.0.0.1"
TIMEOUT = 5


@pytest.fixture(scope="module")
def portal_url():
    port = free_port()
    with fake_daemon() as (_service, socket_path), \
            gunicorn(PORTAL_APP, HOST, port, env=portal_env(HOST, port, socket_path), workers=2):
        yield f"http://{HOST}:{port}"


def test_page_api_and_probe_over_http(portal_url):
    page = requests.get(f"{portal_url}/", timeout=TIMEOUT)
    assert page.status_code == 200 and "HomeNet" in page.text
    assert requests.get(f"{portal_url}/networks", timeout=TIMEOUT).json()[0]["ssid"] == "HomeNet"
    probe = requests.get(f"{portal_url}/hotspot-detect.html", headers={"Host": "captive.apple.com"},
                         allow_redirects=False, timeout=TIMEOUT)
    assert probe.status_code == 302 and probe.headers["Location"] == f"{portal_url}/"


def test_wrong_password_then_success_over_http(portal_url):
    attempt = requests.post(f"{portal_url}/connect", json={"ssid": "HomeNet", "passphrase": "bad password"},
                            timeout=TIMEOUT)
    assert attempt.status_code == 202
    status = wait_until_settled(portal_url)
    assert status["last_attempt"]["reason"] == "wrong_password"
    requests.post(f"{portal_url}/connect", json={"ssid": "HomeNet", "passphrase": "correct horse"},
                  timeout=TIMEOUT)
    assert wait_until_settled(portal_url)["last_attempt"]["result"] == "connected"


def wait_until_settled(url: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/status", timeout=TIMEOUT).json()
        if status["last_attempt"]["result"] != "pending":
            return status
        time.sleep(0.1)
    raise AssertionError("the attempt never settled")


def test_oversized_body_is_refused_with_413(portal_url):
    response = requests.post(f"{portal_url}/connect", data=b"x" * 100_000,
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert response.status_code == 413


def test_control_app_under_gunicorn():
    port = free_port()
    with fake_daemon() as (service, socket_path), \
            gunicorn(CONTROL_APP, HOST, port, env={"WIFI_CONNECT_SOCKET": str(socket_path)}):
        url = f"http://{HOST}:{port}"
        assert requests.get(f"{url}/status", timeout=TIMEOUT).json()["state"] == "portal"
        assert requests.post(f"{url}/setup-mode", timeout=TIMEOUT).status_code == 202
        assert service.setup_mode_requests == 1


def test_daemon_gone_is_503(portal_url_without_daemon):
    response = requests.get(f"{portal_url_without_daemon}/networks", timeout=TIMEOUT)
    assert response.status_code == 503 and "unavailable" in response.json()["error"]
    page = requests.get(f"{portal_url_without_daemon}/", timeout=TIMEOUT)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
    assert "WiFi setup is busy" in page.text


@pytest.fixture
def portal_url_without_daemon(tmp_path):
    port = free_port()
    with gunicorn(PORTAL_APP, HOST, port, env=portal_env(HOST, port, tmp_path / "none.sock")):
        yield f"http://{HOST}:{port}"


def test_gunicorn_and_its_workers_log_json_lines_on_stdout(tmp_path):
    """As the daemon runs it: a worker's warning (daemon unreachable) and gunicorn's own error (a worker
    killed) are JSON lines on stdout; nothing is written to stderr."""
    port = free_port()
    server = GunicornServer("portal web app", PORTAL_APP, HOST, port, {})
    env = {**os.environ, **portal_env(HOST, port, tmp_path / "no-daemon.sock")}
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(server.argv, env=env, stdout=out, stderr=err, start_new_session=True)
    try:
        wait_for_port(HOST, port, process)
        assert requests.get(f"http://{HOST}:{port}/networks", timeout=TIMEOUT).status_code == 503
        worker = psutil.Process(process.pid).children()[0]
        worker.send_signal(signal.SIGKILL)
        worker.wait(TIMEOUT)
        wait_for_lines(out_path, "gunicorn.error")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    lines = [json.loads(line) for line in out_path.read_text().splitlines() if line]
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "wifi_connect.web"} <= loggers and "gunicorn.access" not in loggers, lines
    assert err_path.read_text() == ""


def wait_for_lines(path, logger: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if f'"logger": "{logger}"' in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"no line from {logger} in {path}")


def test_stalled_clients_do_not_take_the_portal_offline():
    """One more half-sent request than the daemon gives the portal threads: each is dropped after the
    client timeout (2 s here), so a real request still gets its answer."""
    port = free_port()
    server = GunicornServer("portal web app", PORTAL_APP, HOST, port, {})
    threads = int(server.argv[server.argv.index("--threads") + 1])
    with fake_daemon() as (_service, socket_path), contextlib.ExitStack() as stack:
        env = {**os.environ, **portal_env(HOST, port, socket_path), "WIFI_CONNECT_CLIENT_TIMEOUT": "2"}
        process = subprocess.Popen(server.argv, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        stack.callback(process.wait, 15)
        stack.callback(os.killpg, process.pid, signal.SIGTERM)
        wait_for_port(HOST, port, process)
        for _ in range(threads + 1):
            stalled = stack.enter_context(socket.create_connection((HOST, port), timeout=TIMEOUT))
            stalled.sendall(f"GET /networks HTTP/1.1\r\nHost: {HOST}:{port}\r\n".encode())
        started = time.monotonic()
        response = requests.get(f"http://{HOST}:{port}/networks", timeout=10)
        assert response.status_code == 200 and time.monotonic() - started < 2 + 2.5
