"""Headless Debian Chromium through Playwright at a phone's viewport, for the portal's browser tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE_VIEWPORT = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "wifi_connect"


@contextlib.contextmanager
def chromium(executable: str | Path = CHROMIUM) -> Iterator[object]:
    """A headless Chromium; ``executable`` may be a wrapper that starts it elsewhere (a namespace)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS,
                                             timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


def chromium_in_namespace(namespace: str, directory: Path) -> Path:
    """A wrapper that runs Chromium inside ``namespace``: the browser is then on the phone's network."""
    wrapper = directory / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def phone_page(browser, java_script: bool = True):
    context = browser.new_context(viewport=PHONE_VIEWPORT, java_script_enabled=java_script,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
