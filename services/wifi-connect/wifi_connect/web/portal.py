"""The server-rendered portal: it works without JavaScript and keeps all state on the server.

The iOS captive sheet forgets everything between visits, so the page is rebuilt from the daemon's
status each time: after a failed attempt the phone rejoins and ``GET /`` explains what went wrong.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, send_from_directory

from ..errors import BusyError, InputError, WifiConnectError
from ..models import FailureReason, Security, State
from . import service, settings

bp = Blueprint("portal", __name__, template_folder="templates")

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
# The "Other network…" select: a hidden network is not in the scan, so the person says how it is secured.
SECURITY_CHOICES = (
    (Security.NONE, "Open (no password)"),
    (Security.WEP, "WEP"),
    (Security.WPA, "WPA/WPA2/WPA3 personal"),
    (Security.ENTERPRISE, "Enterprise (username and password)"),
)
STATIC_MOUNTS = "static,css,js,img"  # balena's UI_DIRECTORY layout


@bp.app_template_filter("bars")
def signal_bars(signal: int) -> int:
    return max(1, min(4, 1 + int(signal) // 25))


@bp.app_template_filter("signal_words")
def signal_words(signal: int) -> str:
    return ("weak", "fair", "good", "strong")[signal_bars(signal) - 1]


@bp.app_template_filter("security_words")
def security_words(security: str) -> str:
    return SECURITY_WORDS.get(security, security)


def failure_of(last_attempt: dict | None) -> dict | None:
    """The last attempt as the page shows it, when it failed."""
    if not last_attempt or last_attempt.get("result") != "failed":
        return None
    reason = last_attempt.get("reason") or FailureReason.FAILED
    return {"ssid": last_attempt.get("ssid", ""), "text": REASON_TEXT.get(reason, REASON_TEXT["failed"])}


def render_page(status_code: int = 200, status: dict | None = None, **form) -> tuple[str, int]:
    """The network list, with the last attempt's outcome or the form's error on top. ``status``: the
    daemon's, when the caller already has it (one RPC round trip fewer)."""
    status = service().status() if status is None else status
    failure = failure_of(status.get("last_attempt"))
    notice = form.pop("notice", None)
    if notice is None and status.get("state") == State.CONNECTED and status.get("ssid"):
        notice = f"This device is connected to “{status['ssid']}”."
    networks = service().networks()
    form.setdefault("selected", failure["ssid"] if failure else None)
    if form["selected"] and form["selected"] not in {network["ssid"] for network in networks}:
        # A hidden (or vanished) network: offer it again as "Other network…" with its name filled in.
        form["other_ssid"], form["selected"] = form["selected"], ""
    page = render_template(
        "portal.html",
        portal_ssid=status.get("portal_ssid", "WiFi Connect"),
        networks=networks,
        failure=failure,
        notice=notice,
        security_choices=SECURITY_CHOICES,
        **{"error": None, "error_field": None, "identity": "", "other_ssid": "", "security": Security.WPA,
           **form},
    )
    return page, status_code


def render_connecting(attempt: dict, status_code: int = 200, status: dict | None = None) -> tuple[str, int]:
    portal_ssid = (service().status() if status is None else status).get("portal_ssid", "WiFi Connect")
    return render_template("connecting.html", attempt=attempt, portal_ssid=portal_ssid), status_code


@bp.get("/")
def index():
    if settings().custom_ui:
        return send_from_directory(settings().ui_directory, "index.html", max_age=0)
    status = service().status()
    last_attempt = status.get("last_attempt")
    if last_attempt and last_attempt.get("result") == "pending":
        return render_connecting(last_attempt, status=status)
    return render_page(status=status)


def form_fields(form: dict[str, str]) -> dict[str, str]:
    """The page's form in /connect's terms: "Other network…" is a hidden SSID typed by hand, with the
    security the person chose (a scanned network's own security always wins, so it is sent only here)."""
    fields = {name: form.get(name, "") for name in ("ssid", "passphrase", "identity")}
    if "ssid" in form and not form["ssid"]:
        fields["ssid"] = form.get("other_ssid", "")
        fields["hidden"] = "true"
        fields["security"] = form.get("security", "")
    return {name: value for name, value in fields.items() if value or name == "ssid"}


@bp.post("/join")
def join():
    form = request.form.to_dict()
    # Echo back what the user typed, except the password (never sent back to the browser).
    kept = {"selected": form.get("ssid"), "identity": form.get("identity", ""),
            "other_ssid": form.get("other_ssid", ""), "security": form.get("security", Security.WPA)}
    try:
        attempt = service().connect(form_fields(form))
    except InputError as err:
        return render_page(400, error=err.message, error_field=err.field, **kept)
    except BusyError:
        status = service().status()
        running = status.get("last_attempt") or {}
        if running.get("result") == "pending" and running.get("ssid") == form_fields(form)["ssid"]:
            # a double-tapped Connect: show the attempt already running
            return render_connecting(running, status=status)
        busy = "The device is already trying a network. Wait a moment."
        return render_page(409, status, notice=busy, **kept)
    return render_connecting(attempt, 202)


@bp.post("/scan")
def scan():
    try:
        service().rescan()
    except WifiConnectError:
        return render_page(notice="The device could not rescan just now; showing the last list.")
    return redirect("/", code=303)


@bp.get(f"/<any({STATIC_MOUNTS}):mount>/<path:filename>")
def ui_file(mount: str, filename: str) -> Response:
    return send_from_directory(settings().ui_directory / mount, filename, max_age=300)
