"""The loopback control API (WSGI test client)."""

from __future__ import annotations

import pytest
from wifi_connect.errors import AdapterError
from wifi_connect.models import State
from wifi_connect.web import PortalSettings


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


def test_portal_settings_from_validated_values():
    from wifi_connect.config import load_config

    config = load_config(["-g", "10.0.0.1", "-d", "10.0.0.2,10.0.0.9", "-o", "8080"], {})
    settings = PortalSettings.from_config(config)
    assert settings.url == "http://10.0.0.1:8080/" and not settings.custom_ui
