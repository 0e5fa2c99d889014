"""An in-memory PortalService for the web tests: the daemon's answers without NetworkManager.

It validates with the daemon's own rules (``validation.credentials_from_request``) and settles each
attempt after ``settle_seconds`` by comparing the passphrase with the network's known password, so
the pages and the browser see the same pending -> failed/connected sequence as with the real daemon.
"""

from __future__ import annotations

import threading
import time

from wifi_connect.errors import BusyError
from wifi_connect.models import FailureReason, Network, Security, State
from wifi_connect.validation import credentials_from_request

# ssid -> (security, signal, frequency, password); "Cafe:Guest\\" checks escaping survives the page.
DEFAULT_NETWORKS: dict[str, tuple[Security, int, int, str]] = {
    "HomeNet": (Security.WPA, 82, 2437, "correct horse"),
    "Cafe:Guest\\": (Security.NONE, 55, 5180, ""),
    "Office": (Security.ENTERPRISE, 40, 5240, "enterprise-pass"),
    "Neighbour": (Security.WPA, 12, 2412, "unknown to us"),
}


class FakePortalService:
    def __init__(self, settle_seconds: float = 0.3, networks=None, portal_ssid: str = "WiFi Connect") -> None:
        self.settle_seconds = settle_seconds
        self.known = dict(DEFAULT_NETWORKS if networks is None else networks)
        self.portal_ssid = portal_ssid
        self.touches = 0
        self.rescans = 0
        self.setup_mode_requests = 0
        self.setup_mode_state = State.CONNECTED  # the state enter_setup_mode finds
        self.received: list[dict[str, str]] = []
        self.fail_with: Exception | None = None  # raised by every call, to test error mapping
        self._attempt: dict | None = None
        self._settles_at = 0.0
        self._expected = FailureReason.FAILED
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def _settle(self) -> None:
        attempt = self._attempt
        if attempt is None or attempt["result"] != "pending" or time.monotonic() < self._settles_at:
            return
        attempt["finished_at"] = time.time()
        if self._expected is None:
            attempt["result"] = "connected"
        else:
            attempt.update(result="failed", reason=str(self._expected), message=f"failed: {self._expected}")

    def status(self) -> dict:
        self._check()
        with self._lock:
            self._settle()
            attempt = self._attempt
            pending = attempt is not None and attempt["result"] == "pending"
            connected = attempt is not None and attempt["result"] == "connected"
            state = State.CONNECTING if pending else State.CONNECTED if connected else State.PORTAL
            return {
                "state": str(state),
                "interface": "wlan0",
                "ssid": attempt["ssid"] if connected else None,
                "portal_ssid": self.portal_ssid,
                "gateway": "192.168.42.1",
                "online": connected,
                "last_attempt": dict(attempt) if attempt else None,
            }

    def networks(self) -> list[dict]:
        self._check()
        rows = [
            Network(ssid, security, signal, frequency, "5GHz" if frequency >= 4900 else "2.4GHz", False)
            for ssid, (security, signal, frequency, _password) in self.known.items()
        ]
        return [row.to_json() for row in sorted(rows, key=lambda row: -row.signal)]

    def rescan(self) -> list[dict]:
        self.rescans += 1
        return self.networks()

    def connect(self, fields: dict[str, str]) -> dict:
        self._check()
        self.received.append(dict(fields))
        scanned = self.known.get(fields.get("ssid", ""))
        credentials = credentials_from_request(fields, scanned[0] if scanned else None)
        with self._lock:
            self._settle()
            if self._attempt is not None and self._attempt["result"] == "pending":
                raise BusyError("a connection attempt is already running")
            self._expected = self._outcome(credentials.ssid, credentials.passphrase)
            self._settles_at = time.monotonic() + self.settle_seconds
            number = self._attempt["id"] + 1 if self._attempt else 1
            self._attempt = {"id": number, "ssid": credentials.ssid, "result": "pending", "reason": None,
                             "message": "", "started_at": time.time(), "finished_at": None}
            return dict(self._attempt)

    def _outcome(self, ssid: str, passphrase: str) -> FailureReason | None:
        if ssid not in self.known:
            return FailureReason.NOT_FOUND
        security, _signal, _frequency, password = self.known[ssid]
        if security is not Security.NONE and passphrase != password:
            return FailureReason.WRONG_PASSWORD
        return None

    def touch(self) -> None:
        self.touches += 1

    def enter_setup_mode(self) -> dict:
        self._check()
        self.setup_mode_requests += 1
        accepted = self.setup_mode_state not in (State.PORTAL, State.CONNECTING, State.RETRYING)
        return {"accepted": accepted, "state": str(self.setup_mode_state)}

    def forget_networks(self) -> dict:
        self._check()
        return {"forgotten": ["HomeNet"]}

