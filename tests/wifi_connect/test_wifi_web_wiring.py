"""The daemon's web wiring without a radio: real gunicorn children (daemon.GunicornServer) reaching a
controller (on fakes) through the real RPC socket, exactly as in production."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import requests
from wifi_connect.config import load_config
from wifi_connect.daemon import CONTROL_APP, PORTAL_APP, GunicornServer, _child_environment
from wifi_connect.errors import AdapterError
from wifi_connect.rpc import RpcServer

from tests.wifi_connect.portal.conftest import HOME, Rig
from tests.wifi_connect.web.gunicorn_server import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def rig(tmp_path) -> Iterator[tuple[Rig, dict[str, str]]]:
    rig = Rig()
    rig.to_portal()
    server = RpcServer(rig.controller, tmp_path / "daemon.sock")
    server.start()
    env = {**os.environ, "WIFI_CONNECT_SOCKET": str(server.path), "PORTAL_GATEWAY": "127.0.0.1"}
    yield rig, env
    server.stop()


@contextlib.contextmanager
def serving(app: str, env: dict[str, str], port: int | None = None) -> Iterator[tuple[GunicornServer, str]]:
    """A started GunicornServer on loopback and its base URL; always stopped."""
    port = port or free_port()
    server = GunicornServer(app, app, "127.0.0.1", port, {**env, "PORTAL_LISTENING_PORT": str(port)})
    server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_control_api_reaches_the_controller_through_gunicorn_and_rpc(rig):
    _, env = rig
    with serving(CONTROL_APP, env) as (control, base):
        assert control.alive()
        assert requests.get(f"{base}/status", timeout=10).json()["state"] == "portal"
        already_up = requests.post(f"{base}/setup-mode", timeout=10)
        assert already_up.status_code == 200 and already_up.json()["accepted"] is False
    assert not control.alive()


def test_portal_app_connects_and_reports_input_errors(rig):
    rig, env = rig
    with serving(PORTAL_APP, env) as (_, base):
        assert [n["ssid"] for n in requests.get(f"{base}/networks", timeout=10).json()] == [HOME, "Cafe"]
        bad = requests.post(f"{base}/connect", json={"ssid": HOME, "passphrase": "short"}, timeout=10)
        assert bad.status_code == 400 and bad.json()["field"] == "passphrase"
        fields = {"ssid": HOME, "passphrase": "correct horse"}
        good = requests.post(f"{base}/connect", json=fields, timeout=10)
        assert good.status_code == 202 and good.json()["result"] == "pending"
        assert requests.post(f"{base}/connect", json=fields, timeout=10).status_code == 409
        assert rig.controller._session.used  # the requests touched the portal


def test_a_port_in_use_is_an_adapter_error(rig):
    _, env = rig
    with serving(CONTROL_APP, env) as (first, _):
        second = GunicornServer("second", CONTROL_APP, "127.0.0.1", first.port, env)
        try:
            with pytest.raises(AdapterError, match="in use"):
                second.start()
        finally:
            second.stop()


def test_web_workers_get_what_they_need_and_no_secret(monkeypatch, tmp_path):
    (tmp_path / "index.html").write_text("<p>custom</p>")
    monkeypatch.setenv("PORTAL_PASSPHRASE", "portal secret")
    config = load_config(["--ui-directory", str(tmp_path), "-o", "8080"], {})
    env = _child_environment(config)
    assert "PORTAL_PASSPHRASE" not in env
    assert env["WIFI_CONNECT_SOCKET"] == "/run/wifi-connect/daemon.sock"
    assert (env["PORTAL_GATEWAY"], env["PORTAL_LISTENING_PORT"]) == ("192.168.42.1", "8080")
    assert env["UI_DIRECTORY"] == str(tmp_path)
