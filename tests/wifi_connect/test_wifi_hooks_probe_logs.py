"""The small real adapters of the daemon: hook command, HTTP probe, JSON log lines."""

from __future__ import annotations

import http.server
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest
from wifi_connect.hooks import HookRunner
from wifi_connect.logs import JsonFormatter
from wifi_connect.probe import HttpProbe

HOOK = (
    f'{sys.executable} -c "import os, sys; '
    "open(sys.argv[1], 'a').write(os.environ['WIFI_CONNECT_STATE'] + ' ' + "
    "os.environ.get('PORTAL_PASSPHRASE', '-') + chr(10))\""
)


def test_hook_gets_each_change_in_order_and_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_PASSPHRASE", "portal secret")
    out = tmp_path / "hook.log"
    runner = HookRunner(f"{HOOK} {out}")
    for state in ("waiting", "portal", "connecting", "connected"):
        runner.state_changed({"state": state, "previous": "", "reason": "", "interface": "wlan0", "ssid": ""})
    runner.close()
    assert out.read_text().splitlines() == ["waiting -", "portal -", "connecting -", "connected -"]


def test_a_failing_or_hung_hook_is_logged_and_does_not_stop_the_next(tmp_path, caplog):
    runner = HookRunner(f"{sys.executable} -c 'import time; time.sleep(10)'", timeout=0.5)
    runner.state_changed({"state": "portal"})
    runner.close()
    missing = HookRunner("/nonexistent/hook")
    missing.state_changed({"state": "portal"})
    missing.close()
    assert "timed out" in caplog.text and "/nonexistent/hook" in caplog.text


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        codes = {"/ok": 204, "/redirect": 302, "/error": 500}
        self.send_response(codes.get(self.path, 404))
        if self.path == "/redirect":
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(("path", "online"), [("/ok", True), ("/redirect", False), ("/error", False)])
def test_probe_online_only_on_2xx_without_redirect(server, path, online):
    assert HttpProbe(server + path, timeout=2).online() is online


def test_probe_offline_when_nothing_answers():
    assert HttpProbe("http://127.0.0.1:9/", timeout=1).online() is False


def test_log_lines_are_json_with_the_state_fields_at_top_level():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.wifi.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning(
        "state %s -> %s",
        "portal",
        "connecting",
        extra={"fields": {"state": "connecting", "message": "ignored"}},
    )
    line = json.loads(stream.getvalue())
    assert line["state"] == "connecting" and line["message"] == "state portal -> connecting"
    assert line["level"] == "warning" and line["logger"] == "test.wifi.json" and line["ts"].endswith("+00:00")
