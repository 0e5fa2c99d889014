"""Each bundled translation rendered in headless Chromium at a phone's 390x844 viewport: the network
list with a failure explained, the same page without JavaScript (every field shown), the connecting page
and the connected notice, none wider than the screen. Screenshots: artifacts/wifi_connect/i18n-*.png."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from wifi_connect.web import PortalSettings, create_portal_app
from wifi_connect.web.i18n import catalogs

from tests.wifi_connect.web.browser import PHONE_VIEWPORT, chromium, screenshot
from tests.wifi_connect.web.fake_portal_service import FakePortalService

pytestmark = pytest.mark.browser
LANGUAGES = ("en", "de", "fr", "es", "pt", "zh")
LONG_SSID = "Guest network of the third floor"  # 32 bytes: the longest an SSID can be


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class ReachableService(FakePortalService):
    """The fake daemon, plus where the device is found once connected (as the real one reports it)."""

    def status(self) -> dict:
        status = super().status()
        status["reach"] = {"hostname": "kiosk-7", "mdns_name": "kiosk-7.local", "addresses": ["192.168.1.23"]}
        return status


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def portal() -> Iterator[tuple[ReachableService, str]]:
    service = ReachableService(settle_seconds=0.0)
    service.known[LONG_SSID] = service.known["HomeNet"]
    server = make_server("127.0.0.1", 0, None, server_class=ThreadingServer, handler_class=QuietHandler)
    port = server.server_port
    server.set_app(create_portal_app(service, PortalSettings(gateway="127.0.0.1", port=port)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service, f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()


def phone(browser, lang: str, java_script: bool = True):
    context = browser.new_context(viewport=PHONE_VIEWPORT, java_script_enabled=java_script, is_mobile=True,
                                  has_touch=True, locale=lang, extra_http_headers={"Accept-Language": lang})
    context.set_default_timeout(10_000)
    return context.new_page()


def assert_fits(page, lang: str, what: str) -> None:
    """Nothing wider than the viewport: no horizontal scrolling, no element sticking out on the right."""
    widths = page.evaluate(
        """() => ({scroll: document.documentElement.scrollWidth, viewport: window.innerWidth,
                   widest: Math.max(...[...document.querySelectorAll('body *')]
                                     .map(e => e.getBoundingClientRect().right))})"""
    )
    assert widths["scroll"] <= widths["viewport"], f"{lang} {what}: {widths}"
    assert widths["widest"] <= widths["viewport"] + 0.5, f"{lang} {what}: {widths}"
    assert page.evaluate("document.documentElement.lang") == lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_translation_fits_a_phone_screen(browser, portal, lang):
    service, url = portal
    words = catalogs()[lang]
    try:
        page = phone(browser, lang)
        page.goto(url)
        assert page.get_by_role("heading", level=1).inner_text() == words["page.heading"]
        page.get_by_label(LONG_SSID, exact=True).check()
        page.get_by_label(words["field.passphrase"]).fill("wrong password")
        page.get_by_role("button", name=words["button.connect"]).click()
        page.wait_for_url(url)  # the attempt failed at once: the script went back to the list
        page.get_by_text(words["reason.wrong_password"]).wait_for()
        page.get_by_label(words["networks.other"]).check()  # the hidden-network fields too
        assert_fits(page, lang, "network list with a failure")
        screenshot(page, f"i18n-{lang}-1-failure")

        no_js = phone(browser, lang, java_script=False)
        no_js.goto(url)
        assert no_js.get_by_label(words["field.identity"]).is_visible()  # no script: every field shows
        assert_fits(no_js, lang, "page without JavaScript")
        service.settle_seconds = 60.0
        no_js.get_by_label(LONG_SSID, exact=True).check()
        no_js.get_by_label(words["field.passphrase"]).fill("correct horse")
        no_js.get_by_role("button", name=words["button.connect"]).click()
        no_js.get_by_text(words["connecting.back"]).wait_for()
        assert_fits(no_js, lang, "connecting page")
        screenshot(no_js, f"i18n-{lang}-2-connecting")

        service.settle_seconds = 0.0
        service._settles_at = 0.0  # the attempt succeeds now
        no_js.goto(url)
        notice = words["notice.connected"].format(ssid=LONG_SSID)
        assert notice in no_js.content().replace("&#39;", "'")
        assert "kiosk-7.local, 192.168.1.23" in no_js.content()
        assert_fits(no_js, lang, "connected notice")
        screenshot(no_js, f"i18n-{lang}-3-connected")
    finally:
        for context in browser.contexts:
            context.close()
