"""The dashboard of a real reporter (gunicorn, real collectors) in headless Debian Chromium on a phone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tests.health.conftest import Reporter, start_reporter
from tests.health.helpers import stop_process, wait_until
from tests.wifi_connect.web.browser import chromium, phone_page

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "health"
PI_TREE = Path(__file__).resolve().parent / "fixtures" / "pi"


def test_dashboard_on_a_phone(reporter: Reporter) -> None:
    def history_points() -> int:
        return len(requests.get(reporter.url + "/history", timeout=5).json()["memory"]["points"])

    wait_until(lambda: history_points() >= 4, 30, "four samples in the history")
    with chromium() as browser:
        page = phone_page(browser, java_script=False)  # the page works without JavaScript
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(reporter.url + "/")
        assert page.locator("#overall").inner_text().lower() in {"ok", "warning", "critical"}
        assert page.locator("#checks .check").count() == 10
        assert page.locator("#plots svg polyline").count() >= 3  # CPU, memory, disk at least on this machine
        disk = page.locator("[data-check='disk']").get_attribute("data-status")
        assert disk in {"ok", "warning", "critical"}
        tiles = page.locator("#tiles").inner_text()
        assert "throttling not measured" in tiles  # not a Pi: no claim that it is not throttled
        down = page.locator("[data-sidecar='log-agent']").inner_text().splitlines()
        assert down[1] == "down" and "Connection refused" in down[2], down  # the probe's error, shown
        assert "clock" not in page.locator("#clock").evaluate("e => e.previousElementSibling.innerText")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"horizontal scrolling on a phone: {width}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    assert requested and all(url.startswith(reporter.url) for url in requested), requested


def test_a_raspberry_pi_in_trouble(tmp_path: Path) -> None:
    tree = tmp_path / "pi"
    shutil.copytree(PI_TREE, tree)
    firmware = tree / "sys/devices/platform/soc/soc:firmware/get_throttled"
    firmware.write_text("0x50005\n")  # under-voltage and throttled, now and since boot
    env = {f"HOST_{part.upper()}": str(tree / part) for part in ("proc", "sys", "root")}
    reporter = start_reporter({**env, "HEALTH_SLOW_INTERVAL": "1"}, tmp_path / "reporter.log")
    try:
        with chromium() as browser:
            page = phone_page(browser, java_script=False)
            page.goto(reporter.url + "/")
            assert page.locator("#overall").inner_text().lower() == "critical"
            assert page.locator("[data-check='undervoltage']").get_attribute("data-status") == "critical"
            assert page.locator("[data-check='throttling']").get_attribute("data-status") == "warning"
            tiles = page.locator("#tiles").inner_text()
            assert "Under-voltage" in tiles and "throttled now" in tiles
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard-pi-undervoltage-phone.png"), full_page=True)
    finally:
        stop_process(reporter.process)
