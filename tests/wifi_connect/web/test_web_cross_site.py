"""A page on another origin cannot make a visitor's browser change the device's WiFi (issue 7, cross-site):
headless Chromium loads an attacker's page (another origin on loopback, so the request really reaches the
portal) that posts the form to /join and fetches /connect; the portal refuses both with 403 and the daemon
never sees an attempt. The portal's own page still works in the same browser."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.wifi_connect.web.browser import chromium, phone_page
from tests.wifi_connect.web.gunicorn_server import fake_daemon, free_port, portal_server

pytestmark = pytest.mark.browser
HOST = "127.0.0.1"

ATTACK_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{portal}join">
<input name="ssid" value="EvilNet"><input name="passphrase" value="attacker-pass">
</form>
<script>
const attempt = {{method: "POST", body: "ssid=EvilNet&passphrase=attacker-pass",
  headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}};
// blind (no-cors): the request goes out, the page just cannot read the answer
window.blind = fetch("{portal}connect", {{...attempt, mode: "no-cors"}}).then(r => r.type);
// readable (cors): the portal sends no CORS header, so the browser hides the answer
window.readable = fetch("{portal}rescan", attempt).then(r => "read " + r.status, e => "refused " + e.name);
</script></body></html>"""


@contextlib.contextmanager
def attacker_site(portal_url: str):
    page = ATTACK_PAGE.format(portal=portal_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("localhost", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def portal():
    port = free_port()
    with fake_daemon() as (service, socket_path), portal_server(HOST, port, socket_path):
        yield service, f"http://{HOST}:{port}/"


def test_another_origin_cannot_post_the_form_or_fetch_connect(portal):
    service, portal_url = portal
    with chromium() as browser, attacker_site(portal_url) as evil_url:
        page = phone_page(browser)
        answers: dict[str, int] = {}
        page.on("response", lambda response: answers.update({response.url: response.status}))
        page.goto(evil_url)
        assert page.evaluate("window.blind") == "opaque"
        readable = page.evaluate("window.readable")
        with page.expect_navigation():
            page.evaluate("document.getElementById('f').submit()")
        assert answers.get(f"{portal_url}connect") == 403, answers  # it reached the portal and was refused
        assert readable.startswith("refused")  # the attacker cannot read any answer (no CORS)
        assert answers.get(f"{portal_url}join") == 403, answers
        assert "cross-site" in page.content()
        assert service.received == [] and service.rescans == 0  # the daemon never saw a thing

        own = phone_page(browser)  # the portal's own page still posts fine, within its CSP
        violations: list[str] = []
        own.on("console", lambda message: violations.append(message.text)
               if "Content Security Policy" in message.text else None)
        own.goto(portal_url)
        own.get_by_label("HomeNet", exact=True).check()
        own.get_by_label("Password (leave empty for an open network)").fill("correct horse")
        own.get_by_role("button", name="Connect").click()
        own.get_by_text("drop off the").wait_for()
        assert service.received[-1]["ssid"] == "HomeNet"
        assert not violations, violations
