"""The server-rendered portal: it works without JavaScript and keeps all state on the server.

The iOS captive sheet forgets everything between visits, so the page is rebuilt from the daemon's
status each time: after a failed attempt the phone rejoins and ``GET /`` explains what went wrong.
Every word comes from ``i18n`` in the language the phone asks for (``Accept-Language``).
"""

from __future__ import annotations

import bottle

from ..errors import BusyError, InputError, WifiConnectError
from ..models import FailureReason, Security, State
from ..ports import PortalService
from . import PortalSettings, form_fields, render
from .i18n import DEFAULT, Translator, for_header

# The "Other network…" select: a hidden network is not in the scan, so the person says how it is secured.
SECURITY_CHOICES = (Security.NONE, Security.WEP, Security.WPA, Security.ENTERPRISE)
# Form fields whose mistakes have a translated hint (the daemon's own message is English).
FIELDS_WITH_HINTS = frozenset({"ssid", "passphrase", "identity", "security"})
STATIC_MOUNTS = ("static", "css", "js", "img")  # balena's UI_DIRECTORY layout
STATIC_MAX_AGE = 300


def signal_bars(signal: int) -> int:
    return max(1, min(4, 1 + int(signal) // 25))


def network_rows(networks: list[dict], t: Translator) -> list[dict]:
    """The scan as the page shows it: bars and words for the screen reader."""
    rows = []
    for network in networks:
        bars = signal_bars(network.get("signal", 0))
        security = network["security"] if network["security"] in Security.__members__.values() else "none"
        key = "network.described_saved" if network.get("saved") else "network.described"
        words = t(key, signal=t(f"signal.{bars}"), security=t(f"security.{security}"))
        rows.append({**network, "bars": bars, "words": words})
    return rows


def failure_of(last_attempt: dict | None, t: Translator) -> dict | None:
    """The last attempt as the page shows it, when it failed: plain words that say what to try."""
    if not last_attempt or last_attempt.get("result") != "failed":
        return None
    reason = last_attempt.get("reason")
    reason = reason if reason in FailureReason.__members__.values() else FailureReason.FAILED
    return {"ssid": last_attempt.get("ssid", ""), "text": t(f"reason.{reason}")}


def where_to_find(status: dict) -> str:
    """``kiosk-7.local, 192.168.1.23``: the device's name on the joined network (when the host publishes
    mDNS) and its addresses, as far as they are known ("" when nothing is)."""
    reach = status.get("reach") or {}
    return ", ".join([name for name in [reach.get("mdns_name")] if name] + list(reach.get("addresses") or []))


def phone_stays(status: dict) -> bool:
    """Two radios: joining a network does not take the portal (and the phone) off the air."""
    client = status.get("client_interface")
    return bool(client) and client != status.get("interface")


def form_error(t: Translator, field: str | None, message: str) -> str:
    """The daemon's message in English; a translated hint for the field otherwise."""
    if t.lang == DEFAULT:
        return message
    return t(f"error.{field}" if field in FIELDS_WITH_HINTS else "error.other")


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
    """Renders the portal's pages from the daemon's answers (one status call per page), in the language
    of the request being answered."""

    def __init__(self, service: PortalService) -> None:
        self.service = service

    @property
    def t(self) -> Translator:
        return for_header(bottle.request.get_header("Accept-Language"))

    def _answer(self, body: str, status_code: int, t: Translator) -> bottle.HTTPResponse:
        return bottle.HTTPResponse(body, status_code, {"Content-Language": t.lang, "Vary": "Accept-Language"})

    def page(self, status_code: int = 200, status: dict | None = None, **form: object) -> bottle.HTTPResponse:
        """The network list, with the last attempt's outcome or the form's error on top."""
        t = self.t
        status = self.service.status() if status is None else status
        failure = failure_of(status.get("last_attempt"), t)
        notice = form.pop("notice", None)
        if notice is None and status.get("state") == State.CONNECTED and status.get("ssid"):
            where = where_to_find(status)
            notice = t("notice.connected", ssid=status["ssid"])
            notice += " " + t("notice.reach", where=where) if where else ""
        if form.get("error"):
            form["error"] = form_error(t, form.get("error_field"), str(form["error"]))
        networks = self.service.networks()
        form.setdefault("selected", failure["ssid"] if failure else None)
        if form["selected"] and form["selected"] not in {network["ssid"] for network in networks}:
            # A hidden (or vanished) network: offer it again as "Other network…" with its name filled in.
            form["other_ssid"], form["selected"] = form["selected"], ""
        values = {"error": None, "error_field": None, "identity": "", "other_ssid": "",
                  "security": Security.WPA, **form}
        choices = [(value, t(f"choice.{value}")) for value in SECURITY_CHOICES]
        body = render("portal", portal_ssid=status.get("portal_ssid", "WiFi Connect"),
                      networks=network_rows(networks, t), failure=failure, notice=notice,
                      security_choices=choices, t=t, lang=t.lang, phone_stays=phone_stays(status), **values)
        return self._answer(body, status_code, t)

    def connecting(self, attempt: dict, status_code: int = 200,
                   status: dict | None = None) -> bottle.HTTPResponse:
        t = self.t
        status = self.service.status() if status is None else status
        page = render("connecting", attempt=attempt, portal_ssid=status.get("portal_ssid", "WiFi Connect"),
                      t=t, lang=t.lang, phone_stays=phone_stays(status), where=where_to_find(status))
        return self._answer(page, status_code, t)


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
            return pages.page(409, status, notice=pages.t("notice.busy"), **kept)
        return pages.connecting(attempt, 202)

    @app.post("/scan", html=True)
    def scan() -> bottle.HTTPResponse:
        try:
            service.rescan()
        except WifiConnectError:
            return pages.page(notice=pages.t("notice.rescan_failed"))
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
