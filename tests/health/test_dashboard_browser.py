"""The dashboard in headless Debian Chromium: a real reporter (real collectors) on a phone, a Raspberry Pi
tree in trouble, and every check state at a desktop's and a phone's size (no sideways scrolling; each
card's colour and words agree)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from health_reporter.checks import CheckRunner, build_checks
from health_reporter.collectors.base import Cadence
from health_reporter.history import History
from health_reporter.models import Sample, note
from health_reporter.sampler import Sampler
from health_reporter.web import create_app
from sidecar_common.http import HttpServer, parse_listen

from tests.health.conftest import Reporter, start_reporter
from tests.health.helpers import ScriptedSource, info, stop_process, wait_until
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
        assert down[1] == "down" and down[2] == "down: not running (connection refused)", down
        assert down[3] == "Details"  # the probe's own text, one tap away
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


# The palette of dashboard.tpl: each state's colour, as the browser computes it.
PALETTE = {
    "ok": "rgb(27, 127, 59)",
    "warning": "rgb(179, 107, 0)",
    "critical": "rgb(179, 38, 30)",
    "unknown": "rgb(117, 117, 117)",
    "pending": "rgb(91, 63, 181)",
}
WORDS = {
    "ok": "OK",
    "warning": "WARNING",
    "critical": "CRITICAL",
    "unknown": "NOT MEASURED",
    "pending": "PENDING",
}
CARDS = """[...document.querySelectorAll('#checks .check')].map(card => ({
    check: card.dataset.check, shown: card.dataset.shown,
    dot: getComputedStyle(card.querySelector('.dot')).backgroundColor,
    word: card.querySelector('.state').innerText,
    wordColour: getComputedStyle(card.querySelector('.state')).color}))"""
OVERFLOW = """[document.documentElement.scrollWidth > window.innerWidth,
    ...[...document.querySelectorAll('header, .tile, .check, .plot, details, code')]
       .filter(e => e.scrollWidth > e.clientWidth + 1
                    || e.getBoundingClientRect().right > window.innerWidth + 0.5)
       .map(e => e.className || e.tagName)]"""


def every_state_source(cadence: Cadence) -> list[Sample]:
    """Disk critical, memory warning, temperature ok, no WiFi (unknown), clock and sidecars pending,
    and a long probe error: one card in each state."""
    error = "GET http://127.0.0.1:24220/metrics: [Errno 111] Connection refused " + "x" * 300
    device = ScriptedSource(
        disk_used_ratio=0.95,
        mem_used_ratio=0.88,
        wifi_dbm=None,
        clock_synced=False,
        sidecars_up=(False, False),
    )
    return [
        *device(cadence),
        info("device_sidecar_error_info", sidecar="log-agent", reason="refused"),
        note("device_sidecar_error", sidecar="log-agent", error=error),
    ]


@pytest.fixture(scope="module")
def every_state_url() -> Iterator[str]:
    sampler = Sampler(every_state_source, CheckRunner(build_checks({})), History(3600, 10), 10, 60)
    sampler.run_once()  # one sample: the sidecar (2 needed) and clock (6 needed) checks are pending
    server = HttpServer(create_app(sampler), parse_listen("127.0.0.1:0", "test"))
    server.start()
    try:
        host, port = server.address  # type: ignore[misc]
        yield f"http://{host}:{port}/"
    finally:
        server.stop()


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_every_check_state_agrees_in_colour_and_words(every_state_url: str, width: int, height: int) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False)
        page = context.new_page()
        page.goto(every_state_url)
        cards = page.evaluate(CARDS)
        assert {card["shown"] for card in cards} == set(PALETTE), cards  # every state is on the page
        for card in cards:
            assert card["dot"] == card["wordColour"] == PALETTE[card["shown"]], card
            assert card["word"].upper() == WORDS[card["shown"]], card
        badge = page.locator("#overall")
        colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
        assert badge.inner_text().upper() == "CRITICAL" and colour == PALETTE["critical"]  # the disk
        storage = page.locator("#storage").inner_text()
        assert "30.4 GB" in storage and "of 32.0 GB" in storage, storage
        assert page.evaluate(OVERFLOW) == [False], f"overflow at {width} px"
        page.locator("[data-sidecar='log-agent'] summary").click()  # open the error's details
        assert "Errno 111" in page.locator("[data-sidecar='log-agent'] code").inner_text()
        assert page.evaluate(OVERFLOW) == [False], f"overflow with the details open at {width} px"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-every-state-{width}x{height}.png"), full_page=True)
