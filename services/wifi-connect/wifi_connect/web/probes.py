"""Captive-portal detection: every OS probe, and every request for a foreign Host, lands on the portal.

Phones decide "captive portal" when their probe URL does not give the expected answer; a 302 to the
portal makes them open the sign-in sheet on it. Once the device is online the probes give the real
answers, so a phone still on the setup network does not keep nagging.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, redirect, request

from ..errors import WifiConnectError
from . import service, settings

bp = Blueprint("probes", __name__)


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


def to_portal() -> Response:
    return redirect(settings().url, code=302)  # no-store: the portal app's after_request sets it


@bp.before_app_request
def redirect_foreign_hosts() -> Response | None:
    """Any request not addressed to the portal (DNS answers every name with the gateway) goes there."""
    if request.path in PROBES or settings().is_portal_host(request.host):
        return None
    return to_portal()


def _device_online() -> bool:
    """Online and not in portal mode: while the AP is up the phone is on the setup network, whatever the
    last connectivity check said."""
    try:
        status = service().status()
        return bool(status.get("online")) and status.get("state") != "portal"
    except WifiConnectError:
        return False  # daemon unreachable: keep showing the portal rather than claim we are online


def answer_probe() -> Response:
    online_answer = PROBES[request.path]
    if online_answer is None or not _device_online():
        return to_portal()
    response = Response(online_answer.body, online_answer.status, content_type=online_answer.content_type)
    response.headers.extend(online_answer.headers)
    return response


for _path in PROBES:
    _endpoint = _path.strip("/").replace("/", "_").replace(".", "_")  # endpoints may not contain dots
    bp.add_url_rule(_path, endpoint=_endpoint, view_func=answer_probe)
