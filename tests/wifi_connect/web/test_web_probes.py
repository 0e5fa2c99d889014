"""Captive-portal probes and the foreign-Host redirect (WSGI test client)."""

from __future__ import annotations

import pytest
from wifi_connect.web.probes import PROBES

from tests.wifi_connect.web.conftest import GATEWAY

# Each OS's probe as (Host, path): the request a phone makes right after joining the AP.
OS_PROBES = [
    ("connectivitycheck.gstatic.com", "/generate_204"),  # Android
    ("clients3.google.com", "/generate_204"),  # ChromeOS, old Android
    ("www.google.com", "/gen_204"),
    ("captive.apple.com", "/hotspot-detect.html"),  # iOS, macOS
    ("www.apple.com", "/library/test/success.html"),
    ("www.msftconnecttest.com", "/connecttest.txt"),  # Windows
    ("www.msftncsi.com", "/ncsi.txt"),
    ("www.msftconnecttest.com", "/redirect"),
    ("detectportal.firefox.com", "/canonical.html"),  # Firefox
    ("detectportal.firefox.com", "/success.txt"),
    ("nmcheck.gnome.org", "/check_network_status.txt"),  # NetworkManager
]


@pytest.mark.parametrize(("host", "path"), OS_PROBES)
def test_probes_redirect_to_the_portal_while_onboarding(client, host, path):
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 302
    assert response.headers["Location"] == f"http://{GATEWAY}/"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", sorted(PROBES))
def test_probes_on_the_gateway_itself_also_redirect(client, path):
    assert client.get(path).status_code == 302


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_any_foreign_host_goes_to_the_portal(client, method):
    response = client.open("/some/page?q=1", method=method, headers={"Host": "example.com"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"http://{GATEWAY}/"


def test_the_portal_host_with_explicit_port_80_is_the_portal(client):
    assert client.get("/networks", headers={"Host": f"{GATEWAY}:80"}).status_code == 200


def _go_online(client, fake_service):
    fake_service.settle_seconds = 0
    client.post("/connect", json={"ssid": "HomeNet", "passphrase": "correct horse"})
    assert client.get("/status").get_json()["online"] is True


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/generate_204", 204, ""),
        ("/hotspot-detect.html", 200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
        ("/connecttest.txt", 200, "Microsoft Connect Test"),
        ("/ncsi.txt", 200, "Microsoft NCSI"),
        ("/success.txt", 200, "success\n"),
    ],
)
def test_probes_answer_like_the_real_endpoints_once_online(client, fake_service, path, status, body):
    _go_online(client, fake_service)
    response = client.get(path, headers={"Host": "probe.example"})
    assert response.status_code == status
    assert response.get_data(as_text=True) == body


def test_networkmanager_probe_online_header(client, fake_service):
    _go_online(client, fake_service)
    response = client.get("/check_network_status.txt", headers={"Host": "nmcheck.gnome.org"})
    assert response.headers["X-NetworkManager-Status"] == "online"


def test_probe_redirects_when_the_daemon_is_unreachable(client, fake_service):
    from wifi_connect.errors import AdapterError

    fake_service.fail_with = AdapterError("down")
    assert client.get("/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}).status_code == 302


def test_probes_redirect_while_the_portal_is_up_even_if_online_is_stale(client, fake_service, monkeypatch):
    stale = {**fake_service.status(), "state": "portal", "online": True}  # e.g. right after POST /setup-mode
    monkeypatch.setattr(fake_service, "status", lambda: stale)
    assert client.get("/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}).status_code == 302
