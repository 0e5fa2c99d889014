"""The portal served as the daemon serves it (gunicorn's hardened threaded worker forked by
ForkedPortalServer) on a free loopback port, talking to a fake daemon through the real RPC socket; over
HTTP."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest
import requests

from tests.wifi_connect.web.gunicorn_server import fake_daemon, free_port, portal_server

HOST = "127.0.0.1"
TIMEOUT = 5


@pytest.fixture(scope="module")
def portal_url():
    port = free_port()
    with fake_daemon() as (_service, socket_path), \
            portal_server(HOST, port, socket_path, head_timeout=1.5, body_timeout=1.5, max_per_client=6):
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
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_oversized_chunked_body_is_refused_with_413(portal_url):
    chunks = (b"x" * 4096 for _ in range(10))  # a generator: requests sends it chunked
    response = requests.post(f"{portal_url}/connect", data=chunks,
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert response.status_code == 413


def test_a_small_chunked_body_is_read(portal_url):
    body = (part for part in (b'{"ssid": "Home', b'Net", "passphrase": "short"}'))
    response = requests.post(f"{portal_url}/connect", data=body, headers={"Content-Type": "application/json"},
                             timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["field"] == "passphrase"


def raw(portal_url: str) -> socket.socket:
    host, port = portal_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed ``sock`` (reads whatever it answered first)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    with contextlib.suppress(ConnectionResetError):
        while sock.recv(4096):
            pass
    return time.monotonic() - started


def test_an_idle_connection_is_closed_after_the_head_deadline(portal_url):
    with raw(portal_url) as idle:
        assert closed_within(idle, 5) < 1.5 + 1


def test_a_trickling_head_is_closed_at_the_deadline(portal_url):
    with raw(portal_url) as slow:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for byte in b"GET /networks HTTP/1.1\r\nHost: x\r\n":
                slow.sendall(bytes([byte]))
                time.sleep(0.2)
        assert time.monotonic() - started < 1.5 + 1.5


def test_a_slow_body_gets_408(portal_url):
    with raw(portal_url) as slow:
        slow.sendall(b"POST /connect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        slow.settimeout(5)
        assert slow.recv(4096).startswith(b"HTTP/1.1 408")


def test_clients_that_never_close_do_not_hold_up_a_person(portal_url):
    """Each answered connection is closed at once: gunicorn's own close would wait up to 2 s in the event
    loop for a client to close first, so five such clients would delay everyone by 10 s."""
    host = portal_url.removeprefix("http://")
    with contextlib.ExitStack() as stack:
        for _ in range(5):
            lingering = stack.enter_context(raw(portal_url))
            lingering.sendall(f"GET /status HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(0.3)
        started = time.monotonic()
        assert requests.get(f"{portal_url}/status", timeout=TIMEOUT).status_code == 200
        assert time.monotonic() - started < 1


def test_expect_100_continue_is_answered_before_the_body(portal_url):
    host = portal_url.removeprefix("http://")
    body = json.dumps({"ssid": "HomeNet", "passphrase": "short"}).encode()
    with raw(portal_url) as client:
        client.sendall(f"POST /connect HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                       f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        assert client.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(body)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400") and b'"passphrase"' in answer  # one 100, then the answer


def test_one_client_cannot_hold_more_than_its_connections(portal_url):
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(raw(portal_url)) for _ in range(6)]
        time.sleep(0.2)
        extra = stack.enter_context(raw(portal_url))
        assert closed_within(extra, 1) < 0.5  # closed at once, long before the head deadline
        assert held[0].fileno() >= 0


def test_daemon_gone_is_503(tmp_path):
    port = free_port()
    with portal_server(HOST, port, tmp_path / "none.sock"):
        url = f"http://{HOST}:{port}"
        response = requests.get(f"{url}/networks", timeout=TIMEOUT)
        assert response.status_code == 503 and "unavailable" in response.json()["error"]
        page = requests.get(f"{url}/", timeout=TIMEOUT)
        assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
        assert "WiFi setup is busy" in page.text


def test_gunicorn_and_its_worker_log_json_lines_on_stdout(tmp_path):
    """A worker's warning (daemon unreachable) is a JSON line on stdout, from the forked worker."""
    port = free_port()
    log_path = tmp_path / "stdout"
    with portal_server(HOST, port, tmp_path / "no-daemon.sock", log_path=log_path):
        assert requests.get(f"http://{HOST}:{port}/", timeout=TIMEOUT).status_code == 503
        deadline = time.monotonic() + 5
        while "wifi_connect.web" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    loggers = {line["logger"] for line in lines}
    assert "wifi_connect.web" in loggers and "gunicorn.access" not in loggers, lines
