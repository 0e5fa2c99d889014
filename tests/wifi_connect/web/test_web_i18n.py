"""The portal in the phone's language: negotiation, complete catalogs, pages (no JavaScript needed)."""

from __future__ import annotations

import re
import string

import pytest
from wifi_connect.web import PortalSettings, create_portal_app
from wifi_connect.web.i18n import DEFAULT, catalogs, negotiate

from tests.wifi_connect.web.fake_portal_service import FakePortalService
from tests.wifi_connect.web.wsgi_client import WsgiClient

LANGUAGES = ("en", "de", "fr", "es", "pt", "zh")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("pt-BR", "pt"),
        ("zh-Hant-TW,zh;q=0.9", "zh"),
        ("zh-CN", "zh"),
        ("ja, fr;q=0.5, en;q=0.4", "fr"),  # no Japanese bundled: the next one asked for
        ("en;q=0.2, es;q=0.9", "es"),  # q-values, not order
        ("fr;q=0, de", "de"),  # q=0 means "not this one"
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("x" * 5000, "en"),
        ("de;q=abc, ,;;, fr", "fr"),  # garbage entries are skipped
        (",".join(["xx"] * 100 + ["de"]), "en"),  # only the first 32 ranges count
    ],
)
def test_accept_language_picks_a_bundled_translation(header, expected):
    assert negotiate(header) == expected


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_bundled_language_has_every_key_with_the_same_placeholders():
    assert set(LANGUAGES) <= set(catalogs())
    english = catalogs()[DEFAULT]
    for lang, catalog in catalogs().items():
        assert set(catalog) == set(english), f"{lang}: {set(catalog) ^ set(english)}"
        for key, text in catalog.items():
            assert placeholders(text) == placeholders(english[key]), (lang, key)
            assert text.strip(), (lang, key)


@pytest.fixture
def service() -> FakePortalService:
    return FakePortalService(settle_seconds=0.0)


@pytest.fixture
def client(service) -> WsgiClient:
    return WsgiClient(create_portal_app(service, PortalSettings(gateway="localhost")))


def get(client: WsgiClient, lang: str, path: str = "/"):
    return client.get(path, headers={"Accept-Language": lang})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_is_in_the_phones_language(client, lang):
    response = get(client, lang)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Content-Language"] == lang
    assert f'<html lang="{lang}">' in html
    assert catalogs()[lang]["page.heading"] in html and catalogs()[lang]["button.connect"] in html
    assert "Accept-Language" in response.headers["Vary"]


def test_without_javascript_a_failed_attempt_is_explained_in_the_phones_language(client, service):
    headers = {"Accept-Language": "de-CH, de;q=0.9", "Origin": "http://localhost"}
    response = client.post("/join", data={"ssid": "HomeNet", "passphrase": "wrong password"}, headers=headers)
    assert response.status_code == 202
    assert "Verbinden mit „HomeNet“ …" in response.get_data(as_text=True)  # the connecting page
    html = get(client, "de").get_data(as_text=True)
    assert "Verbindung mit „HomeNet“ nicht möglich." in html
    assert catalogs()["de"]["reason.wrong_password"] in html


def test_a_form_error_gets_a_translated_hint(client):
    headers = {"Accept-Language": "fr", "Origin": "http://localhost"}
    response = client.post("/join", data={"ssid": "HomeNet", "passphrase": "short"}, headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and catalogs()["fr"]["error.passphrase"] in html
    english = client.post("/join", data={"ssid": "HomeNet", "passphrase": "short"},
                          headers={"Origin": "http://localhost"}).get_data(as_text=True)
    assert "8-63" in english  # English keeps the daemon's own precise message


def test_the_script_gets_its_words_from_the_page(client, service):
    service.settle_seconds = 60.0
    headers = {"Accept-Language": "zh-CN", "Origin": "http://localhost"}
    html = client.post("/join", data={"ssid": "HomeNet", "passphrase": "wrong password"},
                       headers=headers).get_data(as_text=True)
    assert 'data-msg-connected="已连接到“{ssid}”。您可以关闭此页面。"' in html
    assert re.search(r'data-msg-left="[^"]+"', html)


def test_the_unavailable_page_is_translated(client, service):
    from wifi_connect.errors import AdapterError

    service.fail_with = AdapterError("daemon gone")
    response = get(client, "es")
    assert response.status_code == 503 and catalogs()["es"]["unavailable.heading"] in response.get_data(True)
