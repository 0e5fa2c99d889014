"""The onboarding flow in headless Chromium (phone viewport), against the portal as served in production."""

from __future__ import annotations

import time

import pytest

from tests.wifi_connect.web.browser import chromium, phone_page, screenshot
from tests.wifi_connect.web.gunicorn_server import fake_daemon, free_port, portal_server

pytestmark = pytest.mark.browser
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def portal():
    """(the fake daemon's service, the portal's URL) under real gunicorn."""
    port = free_port()
    with fake_daemon() as (service, socket_path), \
            portal_server(HOST, port, socket_path):
        yield service, f"http://{HOST}:{port}/"


@pytest.fixture(autouse=True)
def no_attempt_pending(portal):
    """Each test starts on the network list: the previous test's attempt (0.3 s) has settled."""
    service, _ = portal
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (service.status()["last_attempt"] or {}).get("result") == "pending":
        time.sleep(0.05)


@pytest.fixture(scope="module")
def portal_url(portal):
    return portal[1]


@pytest.fixture(scope="module")
def chromium_browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(chromium_browser):
    """The shared browser; each test's pages are closed after it (no keep-alive left to gunicorn)."""
    yield chromium_browser
    for context in chromium_browser.contexts:
        context.close()


def submit(page, ssid: str, password: str) -> None:
    page.get_by_label(ssid, exact=True).check()
    page.get_by_label("Password (leave empty for an open network)").fill(password)
    page.get_by_role("button", name="Connect").click()


def test_wrong_password_then_success_with_javascript(browser, portal_url):
    page = phone_page(browser)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(portal_url)
    assert len(requests) <= 3, requests  # page, CSS, JS
    screenshot(page, "01-networks")
    page.get_by_label("Office", exact=True).check()
    assert page.get_by_label("Username (enterprise networks only)").is_visible()
    page.get_by_label("Cafe:Guest\\", exact=True).check()
    assert not page.get_by_label("Password (leave empty for an open network)").is_visible()

    submit(page, "HomeNet", "wrong password")
    page.get_by_text("drop off the “WiFi Connect” network").wait_for()
    screenshot(page, "02-connecting")
    # The page follows the attempt and, once it failed, comes back with the reason.
    page.get_by_text("The password was not accepted").wait_for()
    assert page.get_by_label("HomeNet", exact=True).is_checked()
    screenshot(page, "03-wrong-password")

    page.get_by_label("Password (leave empty for an open network)").fill("correct horse")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("Connected to “HomeNet”").wait_for()
    screenshot(page, "04-connected")


def test_keyboard_only(browser, portal_url):
    page = phone_page(browser)
    page.goto(portal_url)
    page.keyboard.press("Tab")  # the first network
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse")
    page.keyboard.press("Enter")
    page.get_by_text("drop off the").wait_for()


def test_hidden_network_and_no_javascript(browser, portal_url):
    page = phone_page(browser, java_script=False)
    page.goto(portal_url)
    page.get_by_label("Other network…").check()
    page.get_by_label("Network name (for a hidden network)").fill("Not There")
    page.get_by_label("Password (leave empty for an open network)").fill("some password")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("drop off the").wait_for()
    screenshot(page, "05-nojs-connecting")
    # Without JavaScript the phone simply rejoins and the captive sheet loads the page again.
    page.wait_for_timeout(400)
    page.goto(portal_url)
    page.get_by_text("could not find that network").wait_for()
    assert page.get_by_label("Other network…").is_checked()
    assert page.get_by_label("Network name (for a hidden network)").input_value() == "Not There"
    assert not page.get_by_text("Show password").is_visible()  # needs JavaScript
    screenshot(page, "06-nojs-not-found")
    submit(page, "HomeNet", "correct horse")
    page.wait_for_timeout(400)
    page.goto(portal_url)
    page.get_by_text("This device is connected to “HomeNet”").wait_for()


def test_rescan_button(browser, portal_url):
    page = phone_page(browser, java_script=False)
    page.goto(portal_url)
    page.get_by_role("button", name="Rescan").click()
    page.get_by_label("HomeNet", exact=True).wait_for()
    assert page.url == portal_url


def test_hidden_network_security_choice(browser, portal):
    """A hidden WEP network: the select decides which fields show, and survives a wrong key."""
    service, url = portal
    page = phone_page(browser)
    page.goto(url)
    security = page.get_by_label("Security (for a hidden network)")
    username = page.get_by_label("Username (enterprise networks only)")
    password = page.get_by_label("Password (leave empty for an open network)")
    assert not security.is_visible()  # only for "Other network…"
    page.get_by_label("Other network…").check()
    assert security.input_value() == "wpa" and password.is_visible() and not username.is_visible()
    security.select_option("none")
    assert not password.is_visible()
    assert password.get_attribute("maxlength") == "64"
    security.select_option("enterprise")
    assert username.is_visible() and password.is_visible()
    password.fill("p" * 300)
    assert password.input_value() == "p" * 256, "long enterprise passwords are not cut at 64"
    security.select_option("wep")
    assert not username.is_visible()
    page.get_by_label("Network name (for a hidden network)").fill("Old Cam")
    password.fill("bad")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("a WEP key must be 5 or 13 ASCII characters").wait_for()
    assert security.input_value() == "wep" and page.get_by_label("Other network…").is_checked()
    screenshot(page, "07-hidden-wep-error")
    password.fill("13charsecret!")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("drop off the").wait_for()
    assert service.received[-1] == {"ssid": "Old Cam", "passphrase": "13charsecret!", "hidden": "true",
                                    "security": "wep"}
