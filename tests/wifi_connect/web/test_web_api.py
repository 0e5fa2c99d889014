"""The JSON API over an in-memory PortalService (WSGI test client)."""

from __future__ import annotations

import time

import pytest
from wifi_connect.errors import AdapterError


def test_networks_are_balena_compatible_and_strongest_first(client):
    response = client.get("/networks")
    assert response.status_code == 200
    rows = response.get_json()
    assert [row["ssid"] for row in rows] == ["HomeNet", "Cafe:Guest\\", "Office", "Neighbour"]
    assert set(rows[0]) >= {"ssid", "security", "signal", "frequency", "band", "saved"}
    assert {row["security"] for row in rows} <= {"none", "wep", "wpa", "enterprise"}


def test_connect_with_json_returns_the_pending_attempt(client, fake_service):
    body = {"ssid": "HomeNet", "passphrase": "correct horse", "identity": ""}
    response = client.post("/connect", json=body)
    assert response.status_code == 202
    attempt = response.get_json()
    assert attempt["ssid"] == "HomeNet" and attempt["result"] == "pending"
    assert fake_service.received[-1]["passphrase"] == "correct horse"
    assert "correct horse" not in response.get_data(as_text=True)


def test_connect_accepts_a_form_and_json_booleans(client, fake_service):
    assert client.post("/connect", data={"ssid": "Hidden1", "passphrase": "password1", "hidden": "true"}) \
        .status_code == 202
    client.get("/status")  # settles the attempt so the next one is not refused as busy
    assert client.post("/connect", json={"ssid": "Hidden2", "hidden": True}).status_code == 202
    assert fake_service.received[-1]["hidden"] == "true"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ssid": ""}, "ssid"),
        ({"ssid": "x" * 33}, "ssid"),
        ({"ssid": "HomeNet", "passphrase": "short"}, "passphrase"),
        ({"ssid": "Office", "passphrase": "pw"}, "identity"),
        ({"ssid": 5}, "ssid"),
        (["not", "an", "object"], "body"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, body, field):
    response = client.post("/connect", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert response.get_json()["error"]


def test_invalid_json_is_400(client):
    response = client.post("/connect", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_second_attempt_while_one_runs_is_409(client, fake_service):
    fake_service.settle_seconds = 60
    assert client.post("/connect", json={"ssid": "HomeNet", "passphrase": "whatever1"}).status_code == 202
    response = client.post("/connect", json={"ssid": "HomeNet", "passphrase": "whatever2"})
    assert response.status_code == 409
    assert "error" in response.get_json()


def test_oversized_body_is_413(client):
    response = client.post("/connect", json={"ssid": "a", "passphrase": "p" * 20000})
    assert response.status_code == 413
    assert response.get_json()["field"] == "body"


def test_status_and_rescan(client, fake_service):
    status = client.get("/status").get_json()
    assert status["state"] == "portal" and status["last_attempt"] is None
    assert client.post("/rescan").status_code == 200
    assert fake_service.rescans == 1


def test_daemon_unreachable_is_503(client, fake_service):
    fake_service.fail_with = AdapterError("daemon socket refused")
    response = client.get("/networks")
    assert response.status_code == 503
    assert "unavailable" in response.get_json()["error"]


def test_a_persons_progress_tells_the_daemon_someone_is_there(client, fake_service):
    client.post("/rescan")
    assert fake_service.touches == 1


@pytest.mark.parametrize(
    ("host", "path"),
    [("connectivitycheck.gstatic.com", "/generate_204"), ("captive.apple.com", "/hotspot-detect.html"),
     ("localhost", "/generate_204"), ("example.com", "/"), ("example.com", "/networks"),
     ("localhost", "/static/app.css"), ("localhost", "/"), ("localhost", "/networks"),
     ("localhost", "/status")],
)
def test_probes_and_foreign_hosts_are_not_portal_activity(client, fake_service, host, path):
    client.get(path, headers={"Host": host})  # a phone that rejoined the AP by itself and probes it
    assert fake_service.touches == 0


def test_no_open_cors_on_the_portal(client):
    response = client.options("/connect", headers={"Origin": "http://elsewhere",
                                                   "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in client.get("/networks").headers


@pytest.mark.parametrize("path", ["/connect", "/join", "/rescan", "/scan"])
@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Referer": "http://evil.example/page"},
                                     {"Origin": "http://localhost:8080"}])
def test_posts_from_another_origin_are_refused(client, fake_service, path, headers):
    response = client.post(path, data={"ssid": "HomeNet", "passphrase": "correct horse"}, headers=headers)
    assert response.status_code == 403 and "cross-site" in response.get_json()["error"]
    assert fake_service.received == [] and fake_service.rescans == 0 and fake_service.touches == 0


@pytest.mark.parametrize("headers", [{"Origin": "http://localhost"}, {"Referer": "http://localhost/"}, {}])
def test_posts_from_the_portal_itself_or_non_browsers_are_accepted(client, headers):
    fields = {"ssid": "HomeNet", "passphrase": "correct horse"}
    assert client.post("/connect", json=fields, headers=headers).status_code == 202


@pytest.mark.parametrize("path", ["/", "/networks", "/static/app.css", "/generate_204", "/nope"])
def test_every_portal_answer_is_locked_down(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_api_answers_are_not_cached(client):
    assert client.get("/status").headers["Cache-Control"] == "no-store"


def test_post_floods_get_429_with_retry_after(client, fake_service):
    from wifi_connect.web import POST_LIMIT

    answers = [client.post("/rescan").status_code for _ in range(POST_LIMIT + 1)]
    assert answers[:POST_LIMIT] == [200] * POST_LIMIT
    assert answers[-1] == 429
    response = client.post("/connect", json={"ssid": "HomeNet"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "10"
    assert fake_service.rescans == POST_LIMIT
    assert client.get("/networks").status_code == 200  # reading is never limited


def test_the_limit_is_per_client_and_per_window():
    from wifi_connect.web import PostRateLimit

    limiter = PostRateLimit(limit=2, window=0.2)
    assert limiter.allow("phone-a") and limiter.allow("phone-a") and not limiter.allow("phone-a")
    assert limiter.allow("phone-b")
    time.sleep(0.25)
    assert limiter.allow("phone-a")
