"""The daemon's web wiring without a radio, exactly as in production: the control API in-process
(sidecar_common HttpServer over the controller), the portal forked by ForkedPortalServer reaching the
controller (on fakes) through the real RPC socket."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from sidecar_common.http import HttpServer, Listen
from wifi_connect.daemon import CONTROL_LIMITS, portal_app
from wifi_connect.errors import AdapterError
from wifi_connect.rpc import RpcServer
from wifi_connect.web import PortalSettings, create_control_app
from wifi_connect.web.server import ForkedPortalServer

from tests.wifi_connect.portal.conftest import HOME, Rig
from tests.wifi_connect.web.gunicorn_server import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def rig(tmp_path) -> Iterator[tuple[Rig, RpcServer]]:
    rig = Rig()
    rig.to_portal()
    server = RpcServer(rig.controller, tmp_path / "daemon.sock")
    server.start()
    yield rig, server
    server.stop()


@contextlib.contextmanager
def portal(server: RpcServer, port: int | None = None) -> Iterator[tuple[ForkedPortalServer, str]]:
    port = port or free_port()
    factory = functools.partial(portal_app, server.path, PortalSettings("127.0.0.1", port))
    web = ForkedPortalServer("portal web app", factory, "127.0.0.1", port)
    web.start()
    try:
        yield web, f"http://127.0.0.1:{port}"
    finally:
        web.stop()


def test_control_api_is_served_in_process_over_the_controller(rig):
    rig, _ = rig
    control = HttpServer(create_control_app(rig.controller), Listen("127.0.0.1", 0), limits=CONTROL_LIMITS)
    control.start()
    try:
        host, port = control.address
        assert requests.get(f"http://{host}:{port}/status", timeout=10).json()["state"] == "portal"
        already_up = requests.post(f"http://{host}:{port}/setup-mode", timeout=10)
        assert already_up.status_code == 200 and already_up.json()["accepted"] is False
    finally:
        control.stop()


def test_portal_app_connects_and_reports_input_errors(rig):
    rig, server = rig
    with portal(server) as (web, base):
        assert web.alive()
        assert [n["ssid"] for n in requests.get(f"{base}/networks", timeout=10).json()] == [HOME, "Cafe"]
        bad = requests.post(f"{base}/connect", json={"ssid": HOME, "passphrase": "short"}, timeout=10)
        assert bad.status_code == 400 and bad.json()["field"] == "passphrase"
        fields = {"ssid": HOME, "passphrase": "correct horse"}
        good = requests.post(f"{base}/connect", json=fields, timeout=10)
        assert good.status_code == 202 and good.json()["result"] == "pending"
        assert requests.post(f"{base}/connect", json=fields, timeout=10).status_code == 409
        assert rig.controller._session.used  # the attempt is a person's progress
    assert not web.alive()


def test_a_port_in_use_is_an_adapter_error(rig):
    _, server = rig
    with portal(server) as (first, _):
        second = ForkedPortalServer("second", lambda: None, "127.0.0.1", first.port)
        with pytest.raises(AdapterError, match="in use"):
            second.start()
        assert not second.alive()


def test_a_stuck_worker_is_killed_and_its_successor_serves_the_queued_connection(rig):
    """The daemon is the worker's arbiter: no heartbeat for ``heartbeat_timeout`` means a stuck event loop;
    it is killed, and the listening socket the daemon keeps holds connections until the next one starts."""
    _, server = rig
    port = free_port()
    factory = functools.partial(portal_app, server.path, PortalSettings("127.0.0.1", port))
    web = ForkedPortalServer("portal web app", factory, "127.0.0.1", port, heartbeat_timeout=2)
    web.start()
    try:
        stuck = web.pid
        os.kill(stuck, signal.SIGSTOP)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as queued:
            queued.sendall(f"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            deadline = time.monotonic() + 10
            while web.alive():
                assert time.monotonic() < deadline, "the stuck worker was not noticed"
                time.sleep(0.2)
            assert not os.path.exists(f"/proc/{stuck}")  # killed and reaped
            web.start()  # what the controller's supervision does when alive() is False
            assert web.pid != stuck
            assert queued.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        web.stop()


def test_the_portal_child_holds_none_of_the_daemons_descriptors(rig):
    """The daemon's listening sockets are not open in the forked gunicorn (a restarted daemon binds
    again at once)."""
    _, server = rig
    with portal(server) as (web, _):
        child_fds = {os.readlink(f"/proc/{web.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{web.pid}/fd")}
        own_inode = os.fstat(server.fileno()).st_ino
        assert f"socket:[{own_inode}]" not in child_fds


def test_the_in_process_portal_calls_the_controller_directly(rig):
    from wifi_connect.config import ConnectionLimits
    from wifi_connect.web import create_portal_app
    from wifi_connect.web.inprocess import InProcessPortalServer

    rig, _ = rig
    port = free_port()
    settings = PortalSettings("127.0.0.1", port)
    web = InProcessPortalServer("portal web app", lambda: create_portal_app(rig.controller, settings),
                                "127.0.0.1", port, ConnectionLimits())
    web.start()
    try:
        base = f"http://127.0.0.1:{port}"
        assert [n["ssid"] for n in requests.get(f"{base}/networks", timeout=10).json()] == [HOME, "Cafe"]
        fields = {"ssid": HOME, "passphrase": "correct horse"}
        good = requests.post(f"{base}/connect", json=fields, timeout=10)
        assert good.status_code == 202 and rig.controller._session.used
        assert "Content-Security-Policy" in requests.get(f"{base}/", timeout=10).headers
        with pytest.raises(AdapterError, match="in use"):
            InProcessPortalServer("second", lambda: None, "127.0.0.1", port, ConnectionLimits()).start()
    finally:
        web.stop()
    assert not web.alive()
