"""The loopback control API (Flask test client)."""

from __future__ import annotations

import pytest
from wifi_connect.errors import AdapterError, ConfigError
from wifi_connect.models import State
from wifi_connect.web import PortalSettings, create_control_app


def test_status_and_networks(control_client):
    assert control_client.get("/status").get_json()["state"] == "portal"
    assert control_client.get("/networks").get_json()[0]["ssid"] == "HomeNet"


def test_setup_mode(control_client, fake_service):
    response = control_client.post("/setup-mode")
    assert response.status_code == 202 and response.get_json()["accepted"] is True
    assert fake_service.setup_mode_requests == 1


@pytest.mark.parametrize(
    ("state", "code"), [(State.PORTAL, 200), (State.CONNECTING, 409), (State.RETRYING, 409)]
)
def test_setup_mode_says_when_it_is_not_accepted(control_client, fake_service, state, code):
    fake_service.setup_mode_state = state
    response = control_client.post("/setup-mode")
    assert response.status_code == code
    assert response.get_json() == {"accepted": False, "state": str(state)}


def test_forget(control_client):
    response = control_client.post("/forget")
    assert response.status_code == 200
    assert response.get_json() == {"forgotten": ["HomeNet"]}


def test_control_does_not_count_as_portal_activity(control_client, fake_service):
    control_client.get("/status")
    assert fake_service.touches == 0


def test_errors_are_json(control_client, fake_service):
    assert control_client.get("/setup-mode").status_code == 405
    assert control_client.get("/nope").get_json()["error"]
    fake_service.fail_with = AdapterError("nmcli timed out")
    assert control_client.post("/forget").status_code == 503


def test_factories_refuse_a_missing_socket_or_bad_port(monkeypatch):
    monkeypatch.delenv("WIFI_CONNECT_SOCKET", raising=False)
    with pytest.raises(ConfigError, match="WIFI_CONNECT_SOCKET"):
        create_control_app()
    with pytest.raises(ConfigError, match="PORTAL_LISTENING_PORT"):
        PortalSettings.from_env({"PORTAL_LISTENING_PORT": "eighty"})
    settings = PortalSettings.from_env({"PORTAL_GATEWAY": "10.0.0.1", "PORTAL_LISTENING_PORT": "8080"})
    assert settings.url == "http://10.0.0.1:8080/"
