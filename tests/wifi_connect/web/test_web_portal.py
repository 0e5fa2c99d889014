"""The server-rendered portal page and its no-JavaScript form flow (WSGI test client)."""

from __future__ import annotations

import re

import pytest

from tests.wifi_connect.web.wsgi_client import WsgiClient


def page_text(response) -> str:
    return response.get_data(as_text=True)


def test_page_lists_networks_strongest_first_with_signal_and_lock(client):
    html = page_text(client.get("/"))
    names = re.findall(r'<span class="name"[^>]*>([^<]*)</span>', html)
    assert names == ["HomeNet", "Cafe:Guest\\", "Office", "Neighbour", "Other network…"]
    assert 'class="bars b4"' in html and 'class="bars b1"' in html
    assert html.count('class="lock"') == 3  # open "Cafe:Guest\" has no lock
    assert "strong signal, secured" in html


def test_page_is_self_contained(client):
    html = page_text(client.get("/"))
    assert not re.search(r'(src|href)="(https?:)?//', html)  # the phone has no internet yet
    assert '<link rel="icon" href="data:,">' in html  # no favicon request


def test_form_post_shows_that_the_phone_will_drop_off(client, fake_service):
    response = client.post("/join", data={"ssid": "HomeNet", "passphrase": "correct horse"})
    assert response.status_code == 202
    assert "drop off the “WiFi Connect” network" in page_text(response)
    assert fake_service.received[-1] == {"ssid": "HomeNet", "passphrase": "correct horse"}
    assert "correct horse" not in page_text(response)


def test_after_a_wrong_password_the_page_says_so_and_preselects_the_network(client):
    client.post("/join", data={"ssid": "HomeNet", "passphrase": "wrong password"})
    html = page_text(client.get("/"))
    assert "Could not connect to “HomeNet”" in html
    assert "The password was not accepted" in html
    assert re.search(r'value="HomeNet"[^>]*checked', html)


def test_while_an_attempt_runs_the_page_shows_progress(client, fake_service):
    fake_service.settle_seconds = 60
    client.post("/join", data={"ssid": "HomeNet", "passphrase": "correct horse"})
    html = page_text(client.get("/"))
    assert 'aria-live="polite"' in html and "Connecting to “HomeNet”" in html


def test_other_network_is_sent_as_a_hidden_ssid(client, fake_service):
    client.post("/join", data={"ssid": "", "other_ssid": "Secret Lab", "passphrase": "labpassword"})
    assert fake_service.received[-1] == {"ssid": "Secret Lab", "passphrase": "labpassword", "hidden": "true"}


def test_other_network_offers_every_security_with_wpa_first_choice(client):
    html = page_text(client.get("/"))
    options = re.findall(r'<option value="(\w+)"( selected)?>', html)
    assert options == [("none", ""), ("wep", ""), ("wpa", " selected"), ("enterprise", "")]
    assert '<label for="security">' in html


def test_hidden_wep_network_is_joined_with_the_chosen_security(client, fake_service):
    form = {"ssid": "", "other_ssid": "Old Cam", "security": "wep", "passphrase": "abcde"}
    assert client.post("/join", data=form).status_code == 202
    assert fake_service.received[-1] == {"ssid": "Old Cam", "passphrase": "abcde", "hidden": "true",
                                         "security": "wep"}


def test_the_chosen_security_is_kept_when_the_form_comes_back_with_an_error(client):
    form = {"ssid": "", "other_ssid": "Old Cam", "security": "wep", "passphrase": "bad"}
    response = client.post("/join", data=form)
    html = page_text(response)
    assert response.status_code == 400 and "WEP key" in html
    assert '<option value="wep" selected>' in html and 'value="Old Cam"' in html


def test_an_unknown_security_is_a_clear_error_on_the_select(client):
    response = client.post("/join", data={"ssid": "", "other_ssid": "Lab", "security": "wpa4"})
    html = page_text(response)
    assert response.status_code == 400 and "security must be one of none, wep, wpa, enterprise" in html
    assert re.search(r'id="security"[^>]*aria-invalid="true"', html)


def test_a_scanned_network_keeps_its_own_security(client, fake_service):
    client.post("/join", data={"ssid": "HomeNet", "security": "none", "passphrase": "correct horse"})
    assert "security" not in fake_service.received[-1]


def test_bad_input_rerenders_the_form_with_the_field_marked(client):
    response = client.post("/join", data={"ssid": "HomeNet", "passphrase": "short", "identity": "me"})
    assert response.status_code == 400
    html = page_text(response)
    assert 'role="alert"' in html and "WPA password" in html
    assert re.search(r'id="passphrase"[^>]*aria-invalid="true"', html)
    assert 'value="short"' not in html  # the password is never echoed back


@pytest.mark.parametrize("method, path", [("GET", "/"), ("POST", "/join"), ("POST", "/scan")])
def test_daemon_unreachable_gives_people_a_page_not_json(client, fake_service, method, path):
    from wifi_connect.errors import AdapterError

    fake_service.fail_with = AdapterError("no answer from the daemon on /run/x.sock")
    response = client.open(path, method=method, data={"ssid": "HomeNet", "passphrase": "correct horse"})
    html = page_text(response)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "WiFi setup is busy" in html and '<meta http-equiv="refresh" content="5">' in html
    assert response.headers["Retry-After"] == "5"
    assert "/run/x.sock" not in html and "correct horse" not in html  # no internals, no secret


@pytest.mark.parametrize("method, path", [("GET", "/networks"), ("GET", "/status"), ("POST", "/connect")])
def test_daemon_unreachable_stays_json_for_the_api(client, fake_service, method, path):
    from wifi_connect.errors import AdapterError

    fake_service.fail_with = AdapterError("no answer")
    response = client.open(path, method=method, json={"ssid": "HomeNet"})
    assert response.status_code == 503 and "unavailable" in response.get_json()["error"]


def test_busy_rerenders_with_a_notice(client, fake_service):
    fake_service.settle_seconds = 60
    client.post("/join", data={"ssid": "HomeNet", "passphrase": "correct horse"})
    other = {"ssid": "Office", "identity": "me", "passphrase": "enterprise-pass"}
    response = client.post("/join", data=other)
    assert response.status_code == 409
    assert "already trying" in page_text(response)


def test_a_double_tapped_connect_shows_the_running_attempt(client, fake_service):
    fake_service.settle_seconds = 60
    first = client.post("/join", data={"ssid": "HomeNet", "passphrase": "correct horse"})
    again = client.post("/join", data={"ssid": "HomeNet", "passphrase": "correct horse"})
    assert again.status_code == 200 and page_text(again) == page_text(first)


def test_rescan_button_rescans_and_returns_to_the_list(client, fake_service):
    response = client.post("/scan")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert fake_service.rescans == 1


def test_static_assets_are_served_and_cacheable(client):
    response = client.get("/static/app.css")
    assert response.status_code == 200 and "max-age=300" in response.headers["Cache-Control"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../web/__init__.py").status_code == 404


@pytest.fixture
def custom_ui(tmp_path, fake_service):
    from wifi_connect.web import PortalSettings, create_portal_app

    (tmp_path / "index.html").write_text("<h1>Custom onboarding</h1>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "main.js").write_text("console.log(1)")
    app = create_portal_app(fake_service, PortalSettings(gateway="localhost", ui_directory=tmp_path))
    return WsgiClient(app)


def test_ui_directory_replaces_the_page_and_keeps_the_api(custom_ui):
    assert "Custom onboarding" in page_text(custom_ui.get("/"))
    assert custom_ui.get("/js/main.js").status_code == 200
    assert custom_ui.get("/networks").status_code == 200


def test_first_load_fits_the_budget(client):
    """<= 20 KB gzip in <= 3 requests (page, CSS, JS); bench/wifi_portal_size.py measures it in Chromium."""
    import gzip

    page = client.get("/").get_data()
    assets = re.findall(r'(?:href|src)="(/[^"]+)"', page.decode())
    assert len(assets) == 2
    bodies = [page, *(client.get(path).get_data() for path in assets)]
    assert sum(len(gzip.compress(body)) for body in bodies) <= 20 * 1024


def test_ssids_are_escaped_and_round_trip_exactly():
    from wifi_connect.models import Security
    from wifi_connect.web import PortalSettings, create_portal_app

    from tests.wifi_connect.web.fake_portal_service import FakePortalService

    tricky = ['<img src=x onerror=alert(1)>', 'say "hi" & \'bye\'', "café ☕ \\", "x" * 32]
    service = FakePortalService(0, networks={ssid: (Security.NONE, 50, 2412, "") for ssid in tricky})
    client = WsgiClient(create_portal_app(service, PortalSettings(gateway="localhost")))
    html = page_text(client.get("/"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    for ssid in tricky:
        client.get("/status")  # settles the previous attempt
        assert client.post("/join", data={"ssid": ssid}).status_code == 202
        assert service.received[-1]["ssid"] == ssid
