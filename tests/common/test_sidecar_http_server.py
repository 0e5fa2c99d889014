"""sidecar_common.http.HttpServer against real sockets on 127.0.0.1: caps, deadlines, sizes, Unix socket,
restart after kill -9."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import bottle
import pytest
import requests
from sidecar_common.http import HttpServer, ServeLimits, parse_listen

from tests.common.conftest import StartServer
from tests.common.http_helpers import connect, make_app, read_until_closed, url, wait_for


def test_serves_a_bottle_app(start_server: StartServer) -> None:
    server = start_server()
    assert requests.get(url(server), timeout=5).text == "ok"
    assert requests.post(url(server, "/echo"), data=b"hello", timeout=5).content == b"hello"
    assert server.stats.accepted_total == 2


def test_slow_and_idle_clients_do_not_deny_service(start_server: StartServer) -> None:
    """200 idle connections and 12 trickling a header byte every second (stricter than every 4 s: each
    looks active the whole time, which defeats waitress's own inactivity timeout): a normal request is still
    answered within 1 s; tricklers are closed by header_timeout, idle ones by idle_timeout (+2 s each)."""
    limits = ServeLimits(max_connections=256, max_per_client=256, header_timeout=3, idle_timeout=5)
    server = start_server(limits=limits)
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    idle = [connect(server) for _ in range(200)]
    for sock in idle:
        opened[sock] = time.monotonic()
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
    tricklers = [connect(server) for _ in range(12)]
    for sock in tricklers:
        sock.send(head[:1])
        opened[sock] = time.monotonic()  # the request's first byte
    for sock in opened:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    wait_for(lambda: server.stats.open_connections == 212)

    closed_after: dict[socket.socket, float] = {}
    answer_times: list[float] = []
    sent = 1
    start = time.monotonic()
    next_trickle = start + 1
    next_request = start + 0.5
    while len(closed_after) < len(opened) and time.monotonic() - start < limits.idle_timeout + 4:
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            assert data == b"", "nothing is sent to a client closed for a deadline"
            closed_after[sock] = time.monotonic() - opened[sock]
            selector.unregister(sock)
        now = time.monotonic()
        if now >= next_trickle:
            next_trickle += 1
            for sock in tricklers:
                if sock not in closed_after:
                    with contextlib.suppress(OSError):  # closed already; seen by select next round
                        sock.send(head[sent:sent + 1])
            sent += 1
        if now >= next_request and len(answer_times) < 4:
            next_request += 1
            began = time.monotonic()
            assert requests.get(url(server), timeout=5).text == "ok"
            answer_times.append(time.monotonic() - began)

    print(f"\nnormal request answer times with 212 slow/idle connections open: "
          f"{', '.join(f'{t * 1000:.0f} ms' for t in answer_times)}")
    assert len(answer_times) >= 3
    assert max(answer_times) < 1.0
    assert all(sock in closed_after for sock in tricklers)
    assert max(closed_after[sock] for sock in tricklers) <= limits.header_timeout + 2
    assert min(closed_after[sock] for sock in tricklers) >= limits.header_timeout
    assert all(sock in closed_after for sock in idle)
    assert max(closed_after[sock] for sock in idle) <= limits.idle_timeout + 2
    closed = server.stats.closed_total
    assert closed["header_timeout"] == 12
    assert closed["idle_timeout"] >= 200  # plus the keep-alive connections of requests (closed by it)
    for sock in opened:
        sock.close()


def test_body_deadline(start_server: StartServer) -> None:
    server = start_server(limits=ServeLimits(body_timeout=1, idle_timeout=30))
    sock = connect(server)
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    began = time.monotonic()
    assert read_until_closed(sock, timeout=6) == b""
    assert 1 <= time.monotonic() - began <= 3
    assert server.stats.closed_total["body_timeout"] == 1


def test_per_client_cap(start_server: StartServer) -> None:
    server = start_server(limits=ServeLimits(max_per_client=3))
    held = [connect(server) for _ in range(3)]
    wait_for(lambda: server.stats.open_connections == 3)
    refused = connect(server)
    assert read_until_closed(refused).startswith(b"HTTP/1.1 503")
    assert server.stats.refused_total["per_client"] == 1
    held.pop().close()
    wait_for(lambda: server.stats.open_connections == 2)
    assert requests.get(url(server), timeout=5).text == "ok"
    for sock in [*held, refused]:
        sock.close()


def test_total_cap_refuses_then_serves_once_others_go(start_server: StartServer) -> None:
    server = start_server(limits=ServeLimits(max_connections=4, max_per_client=10))
    held = [connect(server) for _ in range(4)]
    wait_for(lambda: server.stats.open_connections == 4)
    refused = connect(server)
    assert read_until_closed(refused).startswith(b"HTTP/1.1 503")
    assert server.stats.refused_total["total"] == 1
    for sock in held[:2]:
        sock.close()
    wait_for(lambda: server.stats.open_connections == 2)
    assert requests.get(url(server), timeout=5).text == "ok"
    for sock in [*held[2:], refused]:
        sock.close()


def test_oversize_bodies_get_413(start_server: StartServer) -> None:
    server = start_server(limits=ServeLimits(max_body_bytes=1000))
    assert requests.post(url(server, "/echo"), data=b"x" * 1000, timeout=5).content == b"x" * 1000
    assert requests.post(url(server, "/echo"), data=b"x" * 1001, timeout=5).status_code == 413
    chunked = requests.post(url(server, "/echo"), data=iter([b"x" * 600, b"y" * 600]), timeout=5)
    assert chunked.status_code == 413
    assert server.stats.closed_total["too_large"] == 2


def test_body_up_to_the_limit_stays_in_memory(start_server: StartServer) -> None:
    """No temporary file for a body under the limit (waitress spills past inbuf_overflow)."""
    body = os.urandom(3 << 20)
    fds_before = set(os.listdir("/proc/self/fd"))

    def temp_files() -> list[str]:
        names = []
        for fd in set(os.listdir("/proc/self/fd")) - fds_before:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("/") and not target.startswith("/dev/"):
                names.append(target)
        return names

    seen: list[str] = []
    app = make_app()

    @app.post("/look")
    def look() -> bytes:
        seen.extend(temp_files())
        return bottle.request.body.read()

    server = start_server(app=app, limits=ServeLimits(max_body_bytes=4 << 20))
    assert requests.post(url(server, "/look"), data=body, timeout=10).content == body
    assert seen == []


def test_oversize_head_is_refused(start_server: StartServer) -> None:
    server = start_server(limits=ServeLimits(max_header_bytes=4096))
    response = requests.get(url(server), headers={"X-Big": "a" * 5000}, timeout=5)
    assert response.status_code in (400, 431)
    assert requests.get(url(server), headers={"X-Fits": "a" * 3000}, timeout=5).text == "ok"
    assert server.stats.closed_total["too_large"] == 1


def test_unix_socket(start_server: StartServer, tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    server = start_server(listen=f"unix:{path}", limits=ServeLimits(max_per_client=1))
    assert server.address == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    answers = []
    for _ in range(2):  # the per-client cap does not apply: every peer is this machine
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        answers.append(sock)
    for sock in answers:
        assert read_until_closed(sock).endswith(b"\r\n\r\nok")
        sock.close()
    server.stop()
    assert not path.exists()


def test_unix_socket_left_by_a_dead_server_is_replaced(start_server: StartServer, tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what kill -9 leaves behind
    server = start_server(listen=f"unix:{path}")
    with pytest.raises(OSError):  # a live one is never taken over
        HttpServer(make_app(), parse_listen(f"unix:{path}", "K")).start()
    server.stop()


_CHILD = textwrap.dedent("""
    import sys, time
    sys.path[:0] = {paths!r}
    import bottle
    from sidecar_common.http import HttpServer, parse_listen
    app = bottle.Bottle()
    app.route("/", callback=lambda: "ok")
    server = HttpServer(app, parse_listen(sys.argv[1], "LISTEN"))
    server.start()
    print(server.address[1], flush=True)
    time.sleep(600)
""")


def _child_server(listen: str) -> tuple[subprocess.Popen, int]:
    code = _CHILD.format(paths=sys.path)
    child = subprocess.Popen([sys.executable, "-c", code, listen], stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline())
    return child, port


def test_restart_right_after_kill_9_binds_at_once(start_server: StartServer) -> None:
    child, port = _child_server("127.0.0.1:0")
    try:
        # Leave connections in every state a crash leaves: one closed by the server (TIME_WAIT on its
        # side), one open.
        session = requests.Session()
        assert session.get(f"http://127.0.0.1:{port}/", headers={"Connection": "close"}, timeout=5).ok
        held = socket.create_connection(("127.0.0.1", port), timeout=5)
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    began = time.monotonic()
    server = start_server(listen=f"127.0.0.1:{port}")
    assert time.monotonic() - began < 0.5
    assert requests.get(url(server), timeout=5).text == "ok"
    held.close()
    server.stop()
    again = start_server(listen=f"127.0.0.1:{port}")  # and after an orderly stop
    assert requests.get(url(again), timeout=5).text == "ok"


def test_address_in_use_propagates(start_server: StartServer) -> None:
    server = start_server()
    with pytest.raises(OSError):
        HttpServer(make_app(), parse_listen(f"127.0.0.1:{server.address[1]}", "K")).start()


def test_stop_closes_connections_quickly(start_server: StartServer) -> None:
    server = start_server()
    address = server.address
    held = [connect(server) for _ in range(5)]
    wait_for(lambda: server.stats.open_connections == 5)
    began = time.monotonic()
    server.stop(timeout=2)
    assert time.monotonic() - began < 2
    for sock in held:
        assert read_until_closed(sock, timeout=2) == b""
        sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)


def _pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise AssertionError("no Pss line")


def test_print_pss_of_a_process_serving_one_app() -> None:
    """Measured, not asserted: PSS of python + sidecar_common.http + bottle serving one app."""
    child, port = _child_server("127.0.0.1:0")
    try:
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"
        pss = _pss_kib(child.pid)
    finally:
        child.kill()
        child.wait(10)
    print(f"\nPSS of a process serving one bottle app with sidecar_common.http: {pss / 1024:.1f} MiB")
