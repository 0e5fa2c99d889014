"""The server-rendered portal: it works without JavaScript and keeps all state on the server.

The iOS captive sheet forgets everything between visits, so the page is rebuilt from the daemon's
status each time: after a failed attempt the phone rejoins and ``GET /`` explains what went wrong.
"""

from __future__ import annotations

import bottle

from ..errors import BusyError, InputError, WifiConnectError
from ..models import FailureReason, Security, State
from ..ports import PortalService
from . import PortalSettings, form_fields, render

# Plain words for each failure; the user acts on them, so each one says what to try.
REASON_TEXT: dict[str, str] = {
    FailureReason.WRONG_PASSWORD: "The password was not accepted. Check it (it is case-sensitive).",
    FailureReason.NOT_FOUND: "The device could not find that network. Move it closer or check the name.",
    FailureReason.TIMEOUT: "The network did not answer in time. It may be busy or too far away.",
    FailureReason.NO_IP: "The device joined the network but got no address from it (DHCP).",
    FailureReason.NO_INTERNET: "The device joined the network but it has no internet access.",
    FailureReason.FAILED: "The connection failed.",
}
SECURITY_WORDS = {"none": "open", "wep": "secured (WEP)", "wpa": "secured", "enterprise": "enterprise login"}
SIGNAL_WORDS = ("weak", "fair", "good", "strong")
# The "Other network…" select: a hidden network is not in the scan, so the person says how it is secured.
SECURITY_CHOICES = (
    (Security.NONE, "Open (no password)"),
    (Security.WEP, "WEP"),
    (Security.WPA, "WPA/WPA2/WPA3 personal"),
    (Security.ENTERPRISE, "Enterprise (username and password)"),
)
STATIC_MOUNTS = ("static", "css", "js", "img")  # balena's UI_DIRECTORY layout
STATIC_MAX_AGE = 300


def signal_bars(signal: int) -> int:
    return max(1, min(4, 1 + int(signal) // 25))


def network_rows(networks: list[dict]) -> list[dict]:
    """The scan as the page shows it: bars and words for the screen reader."""
    rows = []
    for network in networks:
        bars = signal_bars(network.get("signal", 0))
        security = SECURITY_WORDS.get(network["security"], network["security"])
        words = f"{SIGNAL_WORDS[bars - 1]} signal, {security}"
        rows.append({**network, "bars": bars, "words": words + (", saved" if network.get("saved") else "")})
    return rows


def failure_of(last_attempt: dict | None) -> dict | None:
    """The last attempt as the page shows it, when it failed."""
    if not last_attempt or last_attempt.get("result") != "failed":
        return None
    reason = last_attempt.get("reason") or FailureReason.FAILED
    return {"ssid": last_attempt.get("ssid", ""), "text": REASON_TEXT.get(reason, REASON_TEXT["failed"])}


def page_fields(form: dict[str, str]) -> dict[str, str]:
    """The page's form in /connect's terms: "Other network…" is a hidden SSID typed by hand, with the
    security the person chose (a scanned network's own security always wins, so it is sent only here)."""
    fields = {name: form.get(name, "") for name in ("ssid", "passphrase", "identity")}
    if "ssid" in form and not form["ssid"]:
        fields["ssid"] = form.get("other_ssid", "")
        fields["hidden"] = "true"
        fields["security"] = form.get("security", "")
    return {name: value for name, value in fields.items() if value or name == "ssid"}


class PortalPages:
    """Renders the portal's pages from the daemon's answers (one status call per page)."""

    def __init__(self, service: PortalService) -> None:
        self.service = service

    def page(self, status_code: int = 200, status: dict | None = None, **form: object) -> bottle.HTTPResponse:
        """The network list, with the last attempt's outcome or the form's error on top."""
        status = self.service.status() if status is None else status
        failure = failure_of(status.get("last_attempt"))
        notice = form.pop("notice", None)
        if notice is None and status.get("state") == State.CONNECTED and status.get("ssid"):
            notice = f"This device is connected to “{status['ssid']}”."
        networks = self.service.networks()
        form.setdefault("selected", failure["ssid"] if failure else None)
        if form["selected"] and form["selected"] not in {network["ssid"] for network in networks}:
            # A hidden (or vanished) network: offer it again as "Other network…" with its name filled in.
            form["other_ssid"], form["selected"] = form["selected"], ""
        values = {"error": None, "error_field": None, "identity": "", "other_ssid": "",
                  "security": Security.WPA, **form}
        body = render("portal", portal_ssid=status.get("portal_ssid", "WiFi Connect"),
                      networks=network_rows(networks), failure=failure, notice=notice,
                      security_choices=SECURITY_CHOICES, **values)
        return bottle.HTTPResponse(body, status_code)

    def connecting(self, attempt: dict, status_code: int = 200,
                   status: dict | None = None) -> bottle.HTTPResponse:
        status = self.service.status() if status is None else status
        page = render("connecting", attempt=attempt, portal_ssid=status.get("portal_ssid", "WiFi Connect"))
        return bottle.HTTPResponse(page, status_code)


def install(app: bottle.Bottle, service: PortalService, settings: PortalSettings) -> None:
    pages = PortalPages(service)

    @app.get("/", html=True)
    def index() -> bottle.HTTPResponse:
        if settings.custom_ui:
            return static(settings.ui_directory, "index.html", max_age=0)
        status = service.status()
        last_attempt = status.get("last_attempt")
        if last_attempt and last_attempt.get("result") == "pending":
            return pages.connecting(last_attempt, status=status)
        return pages.page(status=status)

    @app.post("/join", html=True)
    def join() -> bottle.HTTPResponse:
        form = form_fields()
        # Echo back what the user typed, except the password (never sent back to the browser).
        kept = {"selected": form.get("ssid"), "identity": form.get("identity", ""),
                "other_ssid": form.get("other_ssid", ""), "security": form.get("security", Security.WPA)}
        fields = page_fields(form)
        try:
            attempt = service.connect(fields)
        except InputError as err:
            return pages.page(400, error=err.message, error_field=err.field, **kept)
        except BusyError:
            status = service.status()
            running = status.get("last_attempt") or {}
            if running.get("result") == "pending" and running.get("ssid") == fields["ssid"]:
                return pages.connecting(running, status=status)  # a double-tapped Connect
            busy = "The device is already trying a network. Wait a moment."
            return pages.page(409, status, notice=busy, **kept)
        return pages.connecting(attempt, 202)

    @app.post("/scan", html=True)
    def scan() -> bottle.HTTPResponse:
        try:
            service.rescan()
        except WifiConnectError:
            return pages.page(notice="The device could not rescan just now; showing the last list.")
        return bottle.HTTPResponse("", 303, {"Location": "/"})

    @app.get(f"/<mount:re:{'|'.join(STATIC_MOUNTS)}>/<filename:path>")
    def ui_file(mount: str, filename: str) -> bottle.HTTPResponse:
        return static(settings.ui_directory / mount, filename)


def static(root, filename: str, max_age: int = STATIC_MAX_AGE) -> bottle.HTTPResponse:
    """A file under ``root`` (never outside it: 404, as for a missing one)."""
    answer = bottle.static_file(filename, root=str(root))
    if answer.status_code == 403:
        return bottle.HTTPError(404, "not found")
    if answer.status_code < 400:
        answer.set_header("Cache-Control", f"max-age={max_age}" if max_age else "no-store")
    return answer
