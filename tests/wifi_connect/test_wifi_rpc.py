"""The daemon <-> web worker RPC over a real Unix socket: every method, and errors that keep their type."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading

import pytest
from wifi_connect.errors import AdapterError, BusyError, InputError, WifiConnectError
from wifi_connect.rpc import ControllerClient, RpcServer
from wifi_connect.web import PortalSettings, create_portal_app

from tests.wifi_connect.portal.conftest import HOME, HOME_PASSWORD, Rig
from tests.wifi_connect.web.wsgi_client import WsgiClient


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    rig.to_portal()
    return rig


@pytest.fixture
def client(rig, tmp_path):
    server = RpcServer(rig.controller, tmp_path / "run" / "daemon.sock")
    server.start()
    yield ControllerClient(server.path, timeout=5.0)
    server.stop()


def test_every_portal_service_method_round_trips(rig, client):
    assert client.status()["state"] == "portal"
    assert [n["ssid"] for n in client.networks()] == [HOME, "Cafe"]
    assert [n["ssid"] for n in client.rescan()] == [HOME, "Cafe"]
    client.touch()
    assert rig.controller._session.used
    attempt = client.connect({"ssid": HOME, "passphrase": HOME_PASSWORD})
    assert attempt["result"] == "pending" and attempt["ssid"] == HOME
    assert client.enter_setup_mode()["requested"] == "setup_mode"
    assert client.forget_networks() == {"forgotten": []}


def test_input_error_travels_back_with_its_field(client):
    with pytest.raises(InputError) as caught:
        client.connect({"ssid": HOME, "passphrase": "short"})
    assert caught.value.field == "passphrase"


ENTERPRISE = {"ssid": "Corp", "security": "enterprise", "identity": "alice", "passphrase": "pw"}
LONE_SURROGATE = "x\ud800y"  # what JSON "x\\ud800y" decodes to: text with no UTF-8 form


@pytest.mark.parametrize(
    ("base", "field"),
    [
        ({"ssid": HOME, "passphrase": HOME_PASSWORD}, "ssid"),
        ({"ssid": HOME, "passphrase": HOME_PASSWORD}, "passphrase"),
        (ENTERPRISE, "passphrase"),
        (ENTERPRISE, "identity"),
        (ENTERPRISE, "anonymous_identity"),
        (ENTERPRISE, "domain_suffix_match"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(rig, client, base, field):
    """Through the RPC, and through POST /connect (JSON) on a portal app whose service is that RPC."""
    fields = {**base, field: LONE_SURROGATE}
    with pytest.raises(InputError) as caught:
        client.connect(fields)
    assert caught.value.field == field
    app = create_portal_app(client, PortalSettings(gateway="localhost"))
    answer = WsgiClient(app).post("/connect", data=json.dumps(fields), content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert rig.controller.status()["last_attempt"] is None and client.status()["state"] == "portal"


def test_busy_error_travels_back(client):
    client.connect({"ssid": HOME, "passphrase": HOME_PASSWORD})
    with pytest.raises(BusyError):
        client.connect({"ssid": HOME, "passphrase": HOME_PASSWORD})


@pytest.mark.parametrize(
    ("failure", "expected", "message"),
    [
        (AdapterError("nmcli timed out"), AdapterError, "nmcli timed out"),
        (KeyError("oops"), WifiConnectError, "internal error"),
    ],
)
def test_errors_travel_back_and_the_server_survives(rig, client, failure, expected, message):
    def broken():
        raise failure

    rig.controller.forget_networks = broken
    with pytest.raises(expected, match=message):
        client.forget_networks()
    assert client.networks()


def test_unknown_methods_and_garbage_are_refused(client):
    with pytest.raises(WifiConnectError, match="unknown method"):
        client._call("__init__")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(client.socket_path)
        sock.sendall(b"not json\n")
        assert "bad RPC request" in json.loads(sock.makefile().readline())["error"]["message"]


def test_the_socket_is_private(client):
    mode = os.stat(client.socket_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) & 0o077 == 0


def test_no_daemon_is_an_adapter_error(tmp_path):
    with pytest.raises(AdapterError, match="no answer from the daemon"):
        ControllerClient(tmp_path / "missing.sock", timeout=1.0).status()


def test_concurrent_clients(client):
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(client.status()["state"])) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["portal"] * 20


def test_stop_removes_the_socket(rig, tmp_path):
    server = RpcServer(rig.controller, tmp_path / "d.sock")
    server.start()
    server.stop()
    assert not (tmp_path / "d.sock").exists()


def test_a_socket_path_that_cannot_be_created_is_an_adapter_error(rig, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(AdapterError, match="cannot listen"):
        RpcServer(rig.controller, tmp_path / "file" / "daemon.sock")


def test_concurrent_calls_are_bounded(tmp_path):
    """A flood of portal requests cannot make the daemon run more than MAX_CONCURRENT_CALLS at once."""
    import threading
    import time as timing

    from wifi_connect.rpc import MAX_CONCURRENT_CALLS, ControllerClient, RpcServer

    running, peak, lock = 0, 0, threading.Lock()

    class Slow:
        def status(self) -> dict:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            timing.sleep(0.05)
            with lock:
                running -= 1
            return {"state": "portal"}

    server = RpcServer(Slow(), tmp_path / "rpc.sock")
    server.start()
    try:
        client = ControllerClient(server.path, timeout=10)
        callers = [threading.Thread(target=client.status) for _ in range(40)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(15)
    finally:
        server.stop()
    assert 1 < peak <= MAX_CONCURRENT_CALLS
