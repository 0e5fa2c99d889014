"""The whole onboarding, as a person does it: headless Chromium runs in the "phone" namespace, joins the
setup network (DHCP from the daemon's dnsmasq), opens the iOS probe URL and is sent to the portal, picks the
network, gets the wrong password explained after the portal comes back, then succeeds. The real
``wifi-connect`` daemon runs in the "device" namespace over the simulated NetworkManager."""

from __future__ import annotations

import pytest

from tests.wifi_connect.test_wifi_daemon import (  # the daemon on the simulated device, shared with W2's test
    GATEWAY,
    HOME,
    HOME_PASSWORD,
    WRONG_PASSWORD,
    RunningDaemon,
    daemon,  # noqa: F401 - pytest fixture
)
from tests.wifi_connect.web.browser import chromium, chromium_in_namespace, phone_page, screenshot

pytestmark = [pytest.mark.rig, pytest.mark.browser, pytest.mark.slow]
PORTAL = f"http://{GATEWAY}/"
PASSWORD_LABEL = "Password (leave empty for an open network)"


def test_onboarding_in_a_browser_on_the_phone(daemon: RunningDaemon, tmp_path):  # noqa: F811
    daemon.wait_for(lambda status: status["state"] == "portal")
    daemon.pair.dhcp_lease()  # the phone joins the setup network
    with chromium(chromium_in_namespace(daemon.pair.phone, tmp_path)) as browser:
        page = phone_page(browser)
        page.goto("http://captive.apple.com/hotspot-detect.html")  # what iOS opens after joining
        assert page.url == PORTAL
        page.get_by_label(HOME, exact=True).check()
        page.get_by_label(PASSWORD_LABEL).fill(WRONG_PASSWORD)
        page.get_by_role("button", name="Connect").click()
        page.get_by_text("drop off the").wait_for()
        screenshot(page, "e2e-01-connecting")

        daemon.wait_for(lambda s: s["state"] == "portal" and s["last_attempt"]["result"] == "failed")
        daemon.pair.dhcp_lease()  # the phone rejoins the portal that came back
        # The connecting page kept polling /status; once the portal answers again it shows the reason.
        page.get_by_text("The password was not accepted").wait_for(timeout=20_000)
        assert page.url == PORTAL
        assert page.get_by_label(HOME, exact=True).is_checked()
        screenshot(page, "e2e-02-wrong-password")

        page.get_by_label(PASSWORD_LABEL).fill(HOME_PASSWORD)
        page.get_by_role("button", name="Connect").click()
        page.get_by_text("drop off the").wait_for()
        status = daemon.wait_for(lambda s: s["state"] == "connected")
        assert status["ssid"] == HOME
        assert HOME_PASSWORD not in page.content()
