"""Captive-portal detection: every OS probe, and every request for a foreign Host, lands on the portal.

Phones decide "captive portal" when their probe URL does not give the expected answer; a 302 to the
portal makes them open the sign-in sheet on it. Once the device is online the probes give the real
answers, so a phone still on the setup network does not keep nagging.
"""

from __future__ import annotations

from dataclasses import dataclass

import bottle

from ..errors import WifiConnectError
from ..ports import PortalService
from . import PortalSettings, request_host


@dataclass(frozen=True, slots=True)
class OnlineAnswer:
    """What the real endpoint answers when the network is online."""

    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


_APPLE_SUCCESS = OnlineAnswer(
    200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>", "text/html"
)
_NO_CONTENT = OnlineAnswer(204)

PROBES: dict[str, OnlineAnswer | None] = {
    "/generate_204": _NO_CONTENT,  # Android, ChromeOS, Chrome
    "/gen_204": _NO_CONTENT,
    "/hotspot-detect.html": _APPLE_SUCCESS,  # iOS, macOS
    "/library/test/success.html": _APPLE_SUCCESS,
    "/connecttest.txt": OnlineAnswer(200, "Microsoft Connect Test"),  # Windows 10/11
    "/ncsi.txt": OnlineAnswer(200, "Microsoft NCSI"),  # older Windows
    "/redirect": None,  # Windows opens it only when captive: always the portal
    "/canonical.html": OnlineAnswer(  # Firefox
        200,
        '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
        "text/html",
    ),
    "/success.txt": OnlineAnswer(200, "success\n"),  # older Firefox
    "/check_network_status.txt": OnlineAnswer(  # NetworkManager (GNOME, Ubuntu)
        200, "NetworkManager is online\n", headers=(("X-NetworkManager-Status", "online"),)
    ),
}


def install(app: bottle.Bottle, service: PortalService, settings: PortalSettings) -> None:
    def to_portal() -> bottle.HTTPResponse:
        return bottle.HTTPResponse("", 302, {"Location": settings.url})  # no-store: set by the portal app

    @app.hook("before_request")
    def redirect_foreign_hosts() -> None:
        """Any request not addressed to the portal (DNS answers every name with the gateway) goes there."""
        if bottle.request.path not in PROBES and not settings.is_portal_host(request_host()):
            raise to_portal()

    def device_online() -> bool:
        """Online and not in portal mode: while the AP is up the phone is on the setup network, whatever
        the last connectivity check said."""
        try:
            status = service.status()
            return bool(status.get("online")) and status.get("state") != "portal"
        except WifiConnectError:
            return False  # daemon unreachable: keep showing the portal rather than claim we are online

    def answer_probe() -> bottle.HTTPResponse:
        online_answer = PROBES[bottle.request.path]
        if online_answer is None or not device_online():
            return to_portal()
        headers = {"Content-Type": online_answer.content_type, **dict(online_answer.headers)}
        return bottle.HTTPResponse(online_answer.body, online_answer.status, headers)

    for path in PROBES:
        app.route(path, "GET", answer_probe)
